// The products of one row (a decode step of one sequence) by a persistent grid. A block's 8 warps take 8 / S
// columns at a time, each column's K split over S warps exactly as gemv.cu's warp kernels split it
// (gemv_splits), and walk the launch's columns with a stride of the grid, which is one wave: no block waits for
// another to finish before it starts. A warp reads its share in trips of U 16-byte loads per lane and requests
// the next trip (of this column or of its next one) before it uses the current one, so its loads never drain;
// without that, all warps waited at the same moments and a 78 MB product ran at 45% of the bandwidth. The
// first trip goes out before the kernel waits for its predecessor (weights do not depend on it). Lane order,
// warp reduction and split order are the warp kernels', so the sums are theirs bit for bit.
#include <algorithm>
#include <atomic>
#include <cstdint>

#include "hybridlens/backend/cuda/device_math.cuh"
#include "hybridlens/backend/cuda/gemv_loads.cuh"
#include "hybridlens/backend/cuda/pdl.cuh"

namespace hl::cuda {
namespace {

struct StreamArgs {
  GemvParts p;  // W == 2: w[0] / bias[0] the gate, w[1] / bias[1] the up product, out[0] the result
  const float* x;
  WDt dt, bdt;
  int T;
  int64_t K, columns;
  Act act;
  int S;  // warps per column (gemv_splits)
};

// Column `col` of a launch over the parts, as (part, column within it).
__device__ __forceinline__ int stream_part(const GemvParts& p, int64_t& col) {
  int part = 0;
  while (part < p.count - 1 && col >= p.N[part]) col -= p.N[part++];
  return part;
}

template <int W>
struct StreamColumn {
  const void* w[W];
  int64_t col;  // within its part
  int part;
};

template <int W>
__device__ __forceinline__ StreamColumn<W> stream_column(const StreamArgs& a, int64_t n) {
  StreamColumn<W> c;
  c.col = n;
  c.part = W == 1 ? stream_part(a.p, c.col) : 0;
#pragma unroll
  for (int j = 0; j < W; ++j) c.w[j] = a.p.w[W == 1 ? c.part : j];
  return c;
}

template <int W, bool F32, int U>
__device__ __forceinline__ void load_trip(Raw8<F32> (&raw)[U][W], const StreamColumn<W>& c, int64_t k, int64_t k1,
                                          int64_t K, int lane) {
#pragma unroll
  for (int u = 0; u < U; ++u) {
    const int64_t kk = k + u * 256 + lane * 8;
    if (kk < k1)
#pragma unroll
      for (int j = 0; j < W; ++j) raw[u][j] = fetch8<F32>(c.w[j], c.col * K + kk);
  }
}

template <int W, bool F32, int U, int R>
__device__ __forceinline__ void use_trip(float (&acc)[W][R], const Raw8<F32> (&raw)[U][W], const float* __restrict__ x,
                                         WDt dt, int T, int64_t k, int64_t k1, int64_t K, int lane) {
#pragma unroll
  for (int u = 0; u < U; ++u) {
    const int64_t kk = k + u * 256 + lane * 8;
    if (kk >= k1) break;
    add_products8<W, F32, R>(acc, raw[u], dt, x, T, K, kk);
  }
}

// The S warps of a column (warps slot * S .. slot * S + S - 1 of the block) meet here.
__device__ __forceinline__ void slot_barrier(int slot, int S) {
  asm volatile("bar.sync %0, %1;" ::"r"(1 + slot), "r"(S * 32) : "memory");
}

// Sums the column's partial sums over the warp, then over its S warps in split order, and writes the outputs
// (split 0, lane 0); zeroes acc. part: this column's [kWarps][W][R] shared scratch.
template <int W, int R>
__device__ __forceinline__ void finish_column(float (&acc)[W][R], const StreamArgs& a, const StreamColumn<W>& c,
                                              float (&part)[kWarps][W][R], int S, int warp, int lane) {
#pragma unroll
  for (int j = 0; j < W; ++j)
#pragma unroll
    for (int t = 0; t < R; ++t) {
      if (t >= a.T) break;
      float v = acc[j][t];
      for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
      acc[j][t] = v;
      if (S > 1 && lane == 0) part[warp][j][t] = v;
    }
  if (S > 1) slot_barrier(warp / S, S);
  if (lane == 0 && warp % S == 0) {
#pragma unroll
    for (int j = 0; j < W; ++j)
#pragma unroll
      for (int t = 0; t < R; ++t) {
        if (t >= a.T) break;
        for (int s = 1; s < S; ++s) acc[j][t] += part[warp + s][j][t];
      }
    if constexpr (W == 1) {
      const float b = a.p.bias[c.part] ? ldw(a.p.bias[c.part], a.bdt, c.col) : 0.0f;
#pragma unroll
      for (int t = 0; t < R; ++t)
        if (t < a.T) a.p.out[c.part][int64_t(t) * a.p.N[c.part] + c.col] = acc[0][t] + b;
    } else {
      const float bg = a.p.bias[0] ? ldw(a.p.bias[0], a.bdt, c.col) : 0.0f;
      const float bu = a.p.bias[1] ? ldw(a.p.bias[1], a.bdt, c.col) : 0.0f;
#pragma unroll
      for (int t = 0; t < R; ++t)
        if (t < a.T)
          a.p.out[0][int64_t(t) * a.columns + c.col] = act_f(acc[0][t] + bg, a.act) * (acc[1][t] + bu);
    }
  }
#pragma unroll
  for (int j = 0; j < W; ++j)
#pragma unroll
    for (int t = 0; t < R; ++t) acc[j][t] = 0.0f;
}

template <int W, bool F32, int R>
__device__ __forceinline__ void stream_columns(const StreamArgs& a) {
  constexpr int U = (F32 ? 4 : 8) / W;
  constexpr int64_t kTrip = int64_t(U) * 256;
  // partial sums of a column's warps; two, used alternately, so a column's writes never meet the last
  // column's reads (its split-0 warp reads before the next barrier, which every writer passes first)
  __shared__ float part[2][kWarps][W][R];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, S = a.S, slots = kWarps / S;
  const int64_t chunk = ((a.K + S - 1) / S + 7) / 8 * 8;
  const int64_t k0 = min(a.K, int64_t(warp % S) * chunk), k1 = min(a.K, k0 + chunk);
  const int64_t stride = int64_t(gridDim.x) * slots;
  int64_t n = int64_t(blockIdx.x) * slots + warp / S, k = k0;
  int parity = 0;
  Raw8<F32> A[U][W], B[U][W];
  StreamColumn<W> cur = stream_column<W>(a, n < a.columns ? n : 0);
  if (n < a.columns) load_trip<W, F32, U>(A, cur, k0, k1, a.K, lane);
  pdl_wait();
  float acc[W][R];
#pragma unroll
  for (int j = 0; j < W; ++j)
#pragma unroll
    for (int t = 0; t < R; ++t) acc[j][t] = 0.0f;
  // one trip: request the next (into `next`), use `now`; false when the warp has no columns left
  const auto step = [&](Raw8<F32>(&now)[U][W], Raw8<F32>(&next)[U][W]) {
    const bool last_of_column = k + kTrip >= k1;
    const int64_t n2 = last_of_column ? n + stride : n, k2 = last_of_column ? k0 : k + kTrip;
    const StreamColumn<W> nc = last_of_column && n2 < a.columns ? stream_column<W>(a, n2) : cur;
    if (n2 < a.columns) load_trip<W, F32, U>(next, nc, k2, k1, a.K, lane);
    use_trip<W, F32, U, R>(acc, now, a.x, a.dt, a.T, k, k1, a.K, lane);
    if (last_of_column) {
      finish_column<W, R>(acc, a, cur, part[parity], S, warp, lane);
      parity ^= 1;
    }
    n = n2;
    k = k2;
    cur = nc;
    return n < a.columns;
  };
  if (n < a.columns)
    while (step(A, B) && step(B, A)) {
    }
}

// One row only (with 8 rows, the two trips' registers and the rows' sums spill: more rows take the warp
// kernels, which sum the same way), aligned, K a multiple of 8 (launch_gemv_stream).
template <int W>
__global__ void __launch_bounds__(kWarps * 32, 2) gemv_stream_k(StreamArgs a) {
  pdl_trigger();
  if (a.dt == WDt::F32)
    stream_columns<W, true, 1>(a);
  else
    stream_columns<W, false, 1>(a);
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// Blocks of gemv_stream_k<W> resident at once on device `dev`, cached per device (a host may mix GPU models).
template <int W>
int64_t wave_blocks(int dev) {
  constexpr int kDevices = 64;
  static std::atomic<int64_t> cached[kDevices];
  const bool cacheable = dev >= 0 && dev < kDevices;
  int64_t v = cacheable ? cached[dev].load() : 0;
  if (v == 0) {
    int n = 0, b = 0;
    cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev);
    cudaOccupancyMaxActiveBlocksPerMultiprocessor(&b, gemv_stream_k<W>, kWarps * 32, 0);
    v = int64_t(std::max(n, 1)) * std::max(b, 1);
    if (cacheable) cached[dev].store(v);
  }
  return v;
}

// One wave of gemv_stream_k: as many blocks as fit on the device at once, at most one per 8 / S columns.
template <int W>
void launch_stream(StreamArgs a, cudaStream_t s) {
  int dev = 0;
  cudaGetDevice(&dev);
  a.S = gemv_splits(a.K);
  const int64_t slots = kWarps / a.S;
  const int64_t blocks = std::min<int64_t>((a.columns + slots - 1) / slots, wave_blocks<W>(dev));
  launch_pdl(gemv_stream_k<W>, unsigned(blocks), kWarps * 32, s, a);
}

}  // namespace

void launch_gemv_stream(const GemvParts& parts, const float* x, WDt dt, WDt bdt, int64_t T, int64_t K,
                        cudaStream_t s) {
  StreamArgs a{};
  a.p = parts;
  bool vec = K % 8 == 0 && aligned16(x);
  for (int i = 0; i < parts.count; ++i) {
    a.columns += parts.N[i];
    vec = vec && aligned16(parts.w[i]);
  }
  if (T <= 0 || a.columns <= 0) return;
  if (T != 1 || !vec) {
    launch_gemv_parts(parts, x, dt, bdt, T, K, s);
    return;
  }
  a.x = x;
  a.dt = dt;
  a.bdt = bdt;
  a.T = int(T);
  a.K = K;
  launch_stream<1>(a, s);
}

void launch_gated_gemv_stream(float* out, const float* x, const void* wg, const void* bg, const void* wu,
                              const void* bu, WDt dt, WDt bdt, int64_t T, int64_t K, int64_t N, Act act,
                              cudaStream_t s) {
  if (T <= 0 || N <= 0) return;
  if (!(T == 1 && K % 8 == 0 && aligned16(x) && aligned16(wg) && aligned16(wu))) {
    launch_gated_gemv(out, x, wg, bg, wu, bu, dt, bdt, T, K, N, act, s);
    return;
  }
  StreamArgs a{};
  a.p.out[0] = out;
  a.p.w[0] = wg;
  a.p.w[1] = wu;
  a.p.bias[0] = bg;
  a.p.bias[1] = bu;
  a.p.N[0] = N;
  a.p.count = 1;
  a.x = x;
  a.dt = dt;
  a.bdt = bdt;
  a.T = int(T);
  a.K = K;
  a.columns = N;
  a.act = act;
  launch_stream<2>(a, s);
}

}  // namespace hl::cuda
