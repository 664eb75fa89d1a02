// Matrix products for few rows (decode): linear reads each weight row once with 16-byte loads, a column's
// K split over one to eight warps, and keeps the (at most 8) activation rows' dot products in registers;
// block-diagonal reads each weight once for all rows. fp32 activations and accumulation, weights as stored.
// One row, aligned, is faster through gemv_stream.cu, which sums the same way.
#include <cstdint>

#include "hybridlens/backend/cuda/device_math.cuh"
#include "hybridlens/backend/cuda/gemv_loads.cuh"
#include "hybridlens/backend/cuda/lru_math.cuh"
#include "hybridlens/backend/cuda/pdl.cuh"

namespace hl::cuda {
namespace {

// acc[j][t] += the lane's share of x[t, k0:k1] . w[j][row + k0 : row + k1] for t < T and each of the W
// weights (lanes take 8 consecutive k each; the caller reduces across the warp). k0 and k1 - k0 are
// multiples of 8. Each trip first issues all of its U rounds of 16-byte loads and only then uses them, so a
// lane keeps U * W loads in flight: decode products are bound by how many bytes are on their way.
template <int W, bool F32, int R>
__device__ __forceinline__ void dot_range_vec(float (&acc)[W][R], const float* __restrict__ x,
                                              const void* const (&w)[W], WDt dt, int64_t row, int T, int64_t K,
                                              int64_t k0, int64_t k1, int lane) {
  constexpr int U = (F32 ? 4 : 8) / W;
  for (int64_t k = k0 + int64_t(lane) * 8; k < k1; k += 256 * U) {
    Raw8<F32> raw[U][W];
#pragma unroll
    for (int u = 0; u < U; ++u)
      if (k + u * 256 < k1)
#pragma unroll
        for (int j = 0; j < W; ++j) raw[u][j] = fetch8<F32>(w[j], row + k + u * 256);
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t kk = k + u * 256;
      if (kk >= k1) break;
      add_products8<W, F32, R>(acc, raw[u], dt, x, T, K, kk);
    }
  }
}

// Unaligned weights or K not a multiple of 8: one element per lane and round.
template <int W, int R>
__device__ __forceinline__ void dot_range_scalar(float (&acc)[W][R], const float* __restrict__ x,
                                                 const void* const (&w)[W], WDt dt, int64_t row, int T, int64_t K,
                                                 int64_t k0, int64_t k1, int lane) {
  for (int64_t k = k0 + lane; k < k1; k += 32) {
#pragma unroll
    for (int j = 0; j < W; ++j) {
      const float wv = ldw(w[j], dt, row + k);
#pragma unroll
      for (int t = 0; t < R; ++t) {
        if (t >= T) break;
        acc[j][t] += wv * x[t * K + k];
      }
    }
  }
}

// The column layout every few-row product shares: a block's 8 warps take kWarps / S columns, each column's
// K split over S warps (gemv_splits: a function of K only, so that the same column is summed in the same
// order by every kernel here: linear_parts equals separate linears bit for bit). Each warp reduces its
// partial sums across lanes; the S partials of a column meet in shared memory and are added in split order.
struct ColumnSlot {
  int64_t col;     // this warp's column within the launch (may be past the end: then it only takes part in
                   // the block's barrier)
  int64_t k0, k1;  // this warp's share of K
  int split, lane, warp;
};

__device__ __forceinline__ ColumnSlot column_slot(int S, int64_t K) {
  ColumnSlot c;
  c.lane = threadIdx.x & 31;
  c.warp = threadIdx.x >> 5;
  c.split = c.warp % S;
  c.col = int64_t(blockIdx.x) * (kWarps / S) + c.warp / S;
  const int64_t chunk = ((K + S - 1) / S + 7) / 8 * 8;
  c.k0 = min(K, int64_t(c.split) * chunk);
  c.k1 = min(K, c.k0 + chunk);
  return c;
}

// A warp past the last column (live == false) reads nothing and only takes part in reduce_slot's barrier.
template <int W, int R>
__device__ __forceinline__ void dot_slot(float (&acc)[W][R], const float* x, const void* const (&w)[W],
                                         WDt dt, int64_t row, int T, int64_t K, const ColumnSlot& c, bool vec,
                                         bool live) {
  // The weights do not depend on earlier kernels: ask for this warp's share before waiting for them (pdl.cuh).
  const int64_t elem = dt == WDt::F32 ? 4 : 2, bytes = live ? (c.k1 - c.k0) * elem : 0;
#pragma unroll
  for (int j = 0; j < W; ++j)
    for (int64_t off = int64_t(c.lane) * 128; off < bytes + 127 && bytes > 0; off += 32 * 128)
      prefetch_l2(static_cast<const char*>(w[j]) + (row + c.k0) * elem + min(off, bytes - 1));
  pdl_wait();
#pragma unroll
  for (int j = 0; j < W; ++j)
#pragma unroll
    for (int t = 0; t < R; ++t) acc[j][t] = 0.0f;
  if (!live) return;
  if (!vec)
    dot_range_scalar<W, R>(acc, x, w, dt, row, T, K, c.k0, c.k1, c.lane);
  else if (dt == WDt::F32)
    dot_range_vec<W, true, R>(acc, x, w, dt, row, T, K, c.k0, c.k1, c.lane);
  else
    dot_range_vec<W, false, R>(acc, x, w, dt, row, T, K, c.k0, c.k1, c.lane);
}

// Sums acc over the warp, then over the column's S warps in split order; returns true on the thread that
// holds the column's totals (lane 0 of split 0), which are left in acc[j][t].
template <int W, int R>
__device__ __forceinline__ bool reduce_slot(float (&acc)[W][R], int T, int S, const ColumnSlot& c) {
  __shared__ float part[kWarps][W][R];
#pragma unroll
  for (int j = 0; j < W; ++j)
#pragma unroll
    for (int t = 0; t < R; ++t) {
      if (t >= T) break;
      float v = acc[j][t];
      for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
      acc[j][t] = v;
      if (S > 1 && c.lane == 0) part[c.warp][j][t] = v;
    }
  if (S > 1) {
    __syncthreads();
    if (c.split == 0 && c.lane == 0)
#pragma unroll
      for (int j = 0; j < W; ++j)
#pragma unroll
        for (int t = 0; t < R; ++t) {
          if (t >= T) break;
          for (int s = 1; s < S; ++s) acc[j][t] += part[c.warp + s][j][t];
        }
  }
  return c.split == 0 && c.lane == 0;
}

// Several products of one input in one launch (a single linear is one part): the warps run over the parts'
// columns one after another. Blocks per SM the kernels ask the register allocator for: 4 (64 registers) for
// one row without spilling, 3 for the gated product's two weights.
template <int R>
__global__ void __launch_bounds__(kWarps * 32, R == 1 ? 4 : 2)
    gemv_parts_k(GemvParts p, const float* __restrict__ x, WDt dt, WDt bdt, int T, int64_t K, int S, bool vec) {
  pdl_trigger();
  const ColumnSlot c = column_slot(S, K);
  int64_t n = c.col;
  int part = 0;
  while (part < p.count && n >= p.N[part]) n -= p.N[part++];
  const bool live = part < p.count;
  if (!live) part = p.count - 1;  // any valid part: a dead warp reads nothing
  float acc[1][R];
  const void* const ws[1] = {p.w[part]};
  dot_slot<1, R>(acc, x, ws, dt, n * K, T, K, c, vec, live);
  if (!reduce_slot<1, R>(acc, T, S, c) || !live) return;
  const float b = p.bias[part] ? ldw(p.bias[part], bdt, n) : 0.0f;
#pragma unroll
  for (int t = 0; t < R; ++t)
    if (t < T) p.out[part][int64_t(t) * p.N[part] + n] = acc[0][t] + b;
}

// The gated half of an MLP for few rows: the warps of column n read row n of both weights, so the two
// products, their biases and act(gate) * up take one pass and one launch (decode: three launches before).
template <int R>
__global__ void __launch_bounds__(kWarps * 32, R == 1 ? 3 : 2)
    gated_gemv_k(float* out, const float* __restrict__ x, const void* __restrict__ wg, const void* bg,
                 const void* __restrict__ wu, const void* bu, WDt dt, WDt bdt, int T, int64_t K, int64_t N, int S,
                 bool vec, Act act) {
  pdl_trigger();
  const ColumnSlot c = column_slot(S, K);
  const int64_t n = c.col;
  float acc[2][R];
  const void* const ws[2] = {wg, wu};
  dot_slot<2, R>(acc, x, ws, dt, n * K, T, K, c, vec, n < N);
  if (!reduce_slot<2, R>(acc, T, S, c) || n >= N) return;
  const float b_g = bg ? ldw(bg, bdt, n) : 0.0f, b_u = bu ? ldw(bu, bdt, n) : 0.0f;
#pragma unroll
  for (int t = 0; t < R; ++t)
    if (t < T) out[int64_t(t) * N + n] = act_f(acc[0][t] + b_g, act) * (acc[1][t] + b_u);
}

// Block-diagonal, few rows: out[t, h*bw + j] = b + sum_i x[t, h*bw + i] w[h, i, j]. A block holds 32 output
// columns of one diagonal block (one lane each, so weight loads are coalesced) and its 8 warps split the
// inputs i; the warps' partial sums meet in shared memory. The fallback for widths that are not a multiple of
// 8 or unaligned weights.
constexpr int kBdCols = 32;

__global__ void __launch_bounds__(kWarps * 32) block_diag_k(float* out, const float* x, const void* w, WDt dt,
                                                            const void* b, WDt bdt, int T, int64_t blocks, int64_t bw) {
  pdl_trigger();
  pdl_wait();
  const int64_t tiles = (bw + kBdCols - 1) / kBdCols;
  const int64_t h = blockIdx.x / tiles;
  const int64_t j = (blockIdx.x % tiles) * kBdCols + (threadIdx.x & 31);
  const int warp = threadIdx.x >> 5;
  const int64_t C = blocks * bw;
  float acc[kGemvMaxRows];
#pragma unroll
  for (int t = 0; t < kGemvMaxRows; ++t) acc[t] = 0.0f;
  if (j < bw) {
    const int64_t base = h * bw * bw + j;
#pragma unroll 4
    for (int64_t i = warp; i < bw; i += kWarps) {
      const float wv = ldw(w, dt, base + i * bw);
#pragma unroll
      for (int t = 0; t < kGemvMaxRows; ++t) {
        if (t >= T) break;
        acc[t] += x[int64_t(t) * C + h * bw + i] * wv;
      }
    }
  }
  __shared__ float red[kWarps][kGemvMaxRows][kBdCols];
#pragma unroll
  for (int t = 0; t < kGemvMaxRows; ++t) red[warp][t][threadIdx.x & 31] = acc[t];
  __syncthreads();
  if (warp != 0 || j >= bw) return;
  const float bias = b ? ldw(b, bdt, h * bw + j) : 0.0f;
  for (int t = 0; t < T; ++t) {
    float sum = 0.0f;
    for (int v = 0; v < kWarps; ++v) sum += red[v][t][threadIdx.x];
    out[int64_t(t) * C + h * bw + j] = sum + bias;
  }
}

// The same with 16-byte weight loads (bw a multiple of 8): a CUDA block takes a group of G <= 64 output
// columns of one diagonal block (bd_group); each thread owns 8 adjacent columns and every (256 / (G / 8))-th
// input row, so a few passes issue all of a thread's loads (the 2B shape's gates: 80 blocks of 16 KB each;
// the one-lane-per-column kernel above needed 32 dependent 2-byte loads per warp).
constexpr int kBdVecCols = 64;

// The G columns j0 .. j0 + G - 1 of diagonal block h for rows t < T, into res[t * G + j] (shared memory, ready
// after the call's last barrier): bias + sum_i x[t, h bw + i] W[h, i, j0 + j]. red: kWarps * 32 * 8 floats of
// shared memory.
__device__ void bd_columns(const void* w, const void* b, WDt dt, WDt bdt, const float* x, int T, int64_t C, int64_t h,
                           int64_t bw, int64_t j0, int64_t G, float* red, float* res) {
  const int per_row = int(G / 8), rows_par = (kWarps * 32) / per_row;
  const int tid = threadIdx.x, r0 = tid / per_row, c8 = (tid % per_row) * 8;
  float acc[kGemvMaxRows][8];
#pragma unroll
  for (int t = 0; t < kGemvMaxRows; ++t)
#pragma unroll
    for (int e = 0; e < 8; ++e) acc[t][e] = 0.0f;
  if (r0 < rows_par) {
    const int64_t base = h * bw * bw + j0 + c8;
    const float* xh = x + h * bw;
#pragma unroll 4
    for (int64_t i = r0; i < bw; i += rows_par) {
      float wv[8];
      load8(w, dt, base + i * bw, wv);
#pragma unroll
      for (int t = 0; t < kGemvMaxRows; ++t) {
        if (t >= T) break;
        const float xv = xh[int64_t(t) * C + i];
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[t][e] += xv * wv[e];
      }
    }
  }
  // partial sums of the rows_par row classes, added in class order for each column (deterministic)
#pragma unroll
  for (int t = 0; t < kGemvMaxRows; ++t) {
    if (t >= T) break;
    if (r0 < rows_par)
#pragma unroll
      for (int e = 0; e < 8; ++e) red[r0 * G + c8 + e] = acc[t][e];
    __syncthreads();
    if (tid < G) {
      float sum = 0.0f;
      for (int r = 0; r < rows_par; ++r) sum += red[r * G + tid];
      res[t * G + tid] = sum + (b ? ldw(b, bdt, h * bw + j0 + tid) : 0.0f);
    }
    __syncthreads();
  }
}

__global__ void __launch_bounds__(kWarps * 32) block_diag_vec_k(BlockDiagParts p, const float* x, WDt dt, WDt bdt,
                                                                int T, int64_t blocks, int64_t bw, int64_t G) {
  pdl_trigger();
  pdl_wait();
  const int64_t groups = bw / G, per_part = blocks * groups;
  const int part = int(blockIdx.x / per_part);
  const int64_t local = blockIdx.x % per_part;
  const int64_t h = local / groups, j0 = (local % groups) * G, C = blocks * bw;
  __shared__ float red[kWarps * 32 * 8];
  __shared__ float res[kGemvMaxRows * kBdVecCols];
  bd_columns(p.w[part], p.bias[part], dt, bdt, x, T, C, h, bw, j0, G, red, res);
  if (threadIdx.x < G)
    for (int t = 0; t < T; ++t) p.out[part][int64_t(t) * C + h * bw + j0 + threadIdx.x] = res[t * G + threadIdx.x];
}

// The RG-LRU block of a decode step (Backend::rglru_block): both gates of the block's G channels, then per row
// (one per state) the recurrence and out = act(y) * h', all as the separate kernels compute them.
__global__ void __launch_bounds__(kWarps * 32) rglru_block_k(RglruBlockArgs p, const float* x, WDt dt, WDt bdt,
                                                             int T, int64_t blocks, int64_t bw, int64_t G) {
  pdl_trigger();
  const int64_t groups = bw / G, h = blockIdx.x / groups, j0 = (blockIdx.x % groups) * G, C = blocks * bw;
  // the block's weights (G columns of every input row of both gates) toward L2 before waiting for x
  const int64_t elem = dt == WDt::F32 ? 4 : 2;
  for (int64_t i = threadIdx.x; i < bw; i += blockDim.x) {
    prefetch_l2(static_cast<const char*>(p.w_x) + (h * bw * bw + i * bw + j0) * elem);
    prefetch_l2(static_cast<const char*>(p.w_a) + (h * bw * bw + i * bw + j0) * elem);
  }
  pdl_wait();
  __shared__ float red[kWarps * 32 * 8];
  __shared__ float gate_x[kGemvMaxRows * kBdVecCols], gate_a[kGemvMaxRows * kBdVecCols];
  bd_columns(p.w_x, p.b_x, dt, bdt, x, T, C, h, bw, j0, G, red, gate_x);
  bd_columns(p.w_a, p.b_a, dt, bdt, x, T, C, h, bw, j0, G, red, gate_a);
  if (threadIdx.x >= G) return;
  const int64_t c = h * bw + j0 + threadIdx.x;
  const float sp = softplus_f(ldw(p.rp, p.rdt, c));
  for (int t = 0; t < T; ++t) {
    const int64_t i = int64_t(t) * C + c;
    const LruStep st = lru_coeffs(x[i], gate_x[t * G + threadIdx.x], gate_a[t * G + threadIdx.x], sp, p.pos[t] == 0);
    const float hn = st.a * p.h[t][c] + st.b;
    p.h[t][c] = hn;
    p.out[i] = act_f(p.y[i], p.act) * hn;
  }
}


unsigned gemv_blocks(int64_t columns, int S) {
  const int64_t per = kWarps / S;
  return unsigned((columns + per - 1) / per);
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// Output columns per block of the 16-byte block-diagonal kernels, 0 where they cannot take the width: 32 where
// the width allows (the 2B gates: 80 blocks a gate, each thread two trips; rglru_block_k runs its two gates
// one after the other), else up to 64. One rule for both kernels, so that they sum in the same order and
// agree bit for bit.
int64_t bd_group(int64_t bw) {
  if (bw <= 0 || bw % 8 != 0) return 0;
  const int64_t G = bw % (kBdVecCols / 2) == 0 ? kBdVecCols / 2 : (bw < kBdVecCols ? bw : kBdVecCols);
  return bw % G == 0 ? G : 0;
}

}  // namespace

// Warps per column: a warp's share of K is at most 4096 (K = 2560: 1; 7680: 2; 14336: 4). More warps per
// column cost a barrier per column; fewer leave a persistent grid with few, long columns unevenly shared.
int gemv_splits(int64_t K) {
  int S = 1;
  while (S < kWarps && K > int64_t(S) * 4096) S *= 2;
  return S;
}

void launch_gemv_parts(const GemvParts& parts, const float* x, WDt dt, WDt bdt, int64_t T, int64_t K, cudaStream_t s) {
  if (T <= 0 || parts.count <= 0) return;
  bool vec = K % 8 == 0 && aligned16(x);
  int64_t columns = 0;
  for (int i = 0; i < parts.count; ++i) {
    vec = vec && aligned16(parts.w[i]);
    columns += parts.N[i];
  }
  const int S = gemv_splits(K);
  if (columns == 0) return;
  if (T == 1)
    launch_pdl(gemv_parts_k<1>, gemv_blocks(columns, S), kWarps * 32, s, parts, x, dt, bdt, 1, K, S, vec);
  else
    launch_pdl(gemv_parts_k<kGemvMaxRows>, gemv_blocks(columns, S), kWarps * 32, s, parts, x, dt, bdt, int(T), K, S,
               vec);
}

void launch_gated_gemv(float* out, const float* x, const void* wg, const void* bg, const void* wu, const void* bu,
                       WDt dt, WDt bdt, int64_t T, int64_t K, int64_t N, Act act, cudaStream_t s) {
  if (T <= 0 || N <= 0) return;
  const bool vec = K % 8 == 0 && aligned16(wg) && aligned16(wu) && aligned16(x);
  const int S = gemv_splits(K);
  if (T == 1)
    launch_pdl(gated_gemv_k<1>, gemv_blocks(N, S), kWarps * 32, s, out, x, wg, bg, wu, bu, dt, bdt, 1, K, N, S, vec,
               act);
  else
    launch_pdl(gated_gemv_k<kGemvMaxRows>, gemv_blocks(N, S), kWarps * 32, s, out, x, wg, bg, wu, bu, dt, bdt, int(T),
               K, N, S, vec, act);
}

bool launch_block_diag_parts(const BlockDiagParts& parts, const float* x, WDt dt, WDt bdt, int64_t T, int64_t blocks,
                             int64_t bw, cudaStream_t s) {
  const int64_t G = bd_group(bw);
  bool vec = G > 0 && parts.count > 0 && parts.count <= kMaxGemvParts;
  for (int i = 0; i < parts.count && vec; ++i) vec = aligned16(parts.w[i]);
  if (!vec) return false;
  if (T > 0 && blocks > 0)
    launch_pdl(block_diag_vec_k, unsigned(parts.count * blocks * (bw / G)), kWarps * 32, s, parts, x, dt, bdt, int(T),
               blocks, bw, G);
  return true;
}

bool launch_rglru_block(const RglruBlockArgs& args, const float* x, WDt dt, WDt bdt, int64_t T, int64_t blocks,
                        int64_t bw, cudaStream_t s) {
  const int64_t G = bd_group(bw);
  if (!(G > 0 && T > 0 && T <= kGemvMaxRows && aligned16(args.w_x) && aligned16(args.w_a))) return false;
  if (blocks > 0) launch_pdl(rglru_block_k, unsigned(blocks * (bw / G)), kWarps * 32, s, args, x, dt, bdt, int(T),
                             blocks, bw, G);
  return true;
}

void launch_block_diag(float* out, const float* x, const void* w, WDt dt, const void* b, WDt bdt, int64_t T,
                       int64_t blocks, int64_t bw, cudaStream_t s) {
  const int64_t C = blocks * bw;
  if (T <= 0 || C <= 0) return;
  BlockDiagParts one{};
  one.out[0] = out;
  one.w[0] = w;
  one.bias[0] = b;
  one.count = 1;
  if (launch_block_diag_parts(one, x, dt, bdt, T, blocks, bw, s)) return;
  const int64_t tiles = (bw + kBdCols - 1) / kBdCols;
  launch_pdl(block_diag_k, unsigned(blocks * tiles), kWarps * 32, s, out, x, w, dt, b, bdt, int(T), blocks, bw);
}

}  // namespace hl::cuda
