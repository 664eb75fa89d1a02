// Matrix products for few rows (decode): linear reads each weight row once with 16-byte loads and keeps
// the (at most 8) activation rows' dot products in registers; block-diagonal reads each weight once for all
// rows. fp32 activations and accumulation, weights as stored.
#include <cstdint>

#include "hybridlens/backend/cuda/device_math.cuh"

namespace hl::cuda {
namespace {

constexpr int kWarps = 8;

__device__ __forceinline__ void load8(const void* w, WDt dt, int64_t i, float* v) {
  if (dt == WDt::F32) {
    const float4 a = *reinterpret_cast<const float4*>(static_cast<const float*>(w) + i);
    const float4 b = *reinterpret_cast<const float4*>(static_cast<const float*>(w) + i + 4);
    v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w; v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
    return;
  }
  const uint4 r = *reinterpret_cast<const uint4*>(static_cast<const uint16_t*>(w) + i);
  const uint32_t words[4] = {r.x, r.y, r.z, r.w};
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const uint16_t lo = uint16_t(words[j] & 0xffffu), hi = uint16_t(words[j] >> 16);
    if (dt == WDt::BF16) {
      v[2 * j] = __uint_as_float(uint32_t(lo) << 16);
      v[2 * j + 1] = __uint_as_float(uint32_t(hi) << 16);
    } else {
      v[2 * j] = __half2float(__ushort_as_half(lo));
      v[2 * j + 1] = __half2float(__ushort_as_half(hi));
    }
  }
}

// acc[j][t] += the lane's share of x[t, :] . w[j][row, :] for t < T and each of the W weights (the warp's
// lanes split K; the caller reduces across the warp). Two weights (the gated product) are read interleaved.
template <int W>
__device__ __forceinline__ void dot_columns(float (&acc)[W][kGemvMaxRows], const float* __restrict__ x,
                                            const void* const (&w)[W], WDt dt, int64_t row, int T, int64_t K,
                                            int lane, bool vec) {
  if (vec) {
    // 8 rounds of 16-byte loads in flight per lane: a 2560-wide row is 10 rounds, so most rows take one or
    // two trips to memory (the latency, not the bandwidth, bounds these few-microsecond kernels)
#pragma unroll(8 / W)
    for (int64_t k = int64_t(lane) * 8; k < K; k += 256) {
      float wv[W][8];
#pragma unroll
      for (int j = 0; j < W; ++j) load8(w[j], dt, row + k, wv[j]);
#pragma unroll
      for (int t = 0; t < kGemvMaxRows; ++t) {
        if (t >= T) break;
        const float4 a = *reinterpret_cast<const float4*>(x + t * K + k);
        const float4 b = *reinterpret_cast<const float4*>(x + t * K + k + 4);
#pragma unroll
        for (int j = 0; j < W; ++j)
          acc[j][t] += wv[j][0] * a.x + wv[j][1] * a.y + wv[j][2] * a.z + wv[j][3] * a.w + wv[j][4] * b.x +
                       wv[j][5] * b.y + wv[j][6] * b.z + wv[j][7] * b.w;
      }
    }
  } else {
    for (int64_t k = lane; k < K; k += 32) {
#pragma unroll
      for (int j = 0; j < W; ++j) {
        const float wv = ldw(w[j], dt, row + k);
#pragma unroll
        for (int t = 0; t < kGemvMaxRows; ++t) {
          if (t >= T) break;
          acc[j][t] += wv * x[t * K + k];
        }
      }
    }
  }
}

// Reduces acc across the warp and writes out[t * ldo] = sum + bias for t < T (lane 0).
__device__ __forceinline__ void write_column(float* out, int64_t ldo, float* acc, float bias, int T, int lane) {
#pragma unroll
  for (int t = 0; t < kGemvMaxRows; ++t) {
    if (t >= T) break;
    float v = acc[t];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0) out[int64_t(t) * ldo] = v + bias;
  }
}

// One warp per output column n.
__global__ void gemv_k(float* out, const float* __restrict__ x, const void* __restrict__ w, WDt dt, const void* bias,
                       WDt bdt, int T, int64_t K, int64_t N, bool vec) {
  const int lane = threadIdx.x & 31;
  const int64_t n = int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (n >= N) return;
  float acc[1][kGemvMaxRows] = {};
  const void* const ws[1] = {w};
  dot_columns<1>(acc, x, ws, dt, n * K, T, K, lane, vec);
  write_column(out + n, N, acc[0], bias ? ldw(bias, bdt, n) : 0.0f, T, lane);
}

// Several products of one input in one launch: the warps run over the parts' columns one after another.
__global__ void gemv_parts_k(GemvParts p, const float* __restrict__ x, WDt dt, WDt bdt, int T, int64_t K, bool vec) {
  const int lane = threadIdx.x & 31;
  int64_t n = int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  int part = 0;
  while (part < p.count && n >= p.N[part]) n -= p.N[part++];
  if (part >= p.count) return;
  float acc[1][kGemvMaxRows] = {};
  const void* const ws[1] = {p.w[part]};
  dot_columns<1>(acc, x, ws, dt, n * K, T, K, lane, vec);
  write_column(p.out[part] + n, p.N[part], acc[0], p.bias[part] ? ldw(p.bias[part], bdt, n) : 0.0f, T, lane);
}

// The gated half of an MLP for few rows: one warp per output column n reads row n of both weights, so the
// two products, their biases and act(gate) * up take one pass and one launch (decode: three launches before).
__global__ void gated_gemv_k(float* out, const float* __restrict__ x, const void* __restrict__ wg, const void* bg,
                             const void* __restrict__ wu, const void* bu, WDt dt, WDt bdt, int T, int64_t K,
                             int64_t N, bool vec, Act act) {
  const int lane = threadIdx.x & 31;
  const int64_t n = int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (n >= N) return;
  float acc[2][kGemvMaxRows] = {};
  const void* const ws[2] = {wg, wu};
  dot_columns<2>(acc, x, ws, dt, n * K, T, K, lane, vec);
#pragma unroll
  for (int t = 0; t < kGemvMaxRows; ++t) {
    if (t >= T) break;
    float a = acc[0][t], b = acc[1][t];
    for (int o = 16; o > 0; o >>= 1) {
      a += __shfl_xor_sync(0xffffffffu, a, o);
      b += __shfl_xor_sync(0xffffffffu, b, o);
    }
    if (lane == 0) {
      a += bg ? ldw(bg, bdt, n) : 0.0f;
      b += bu ? ldw(bu, bdt, n) : 0.0f;
      out[int64_t(t) * N + n] = act_f(a, act) * b;
    }
  }
}

// Block-diagonal, few rows: out[t, h*bw + j] = b + sum_i x[t, h*bw + i] w[h, i, j]. A block holds 32 output
// columns of one diagonal block (one lane each, so weight loads are coalesced) and its 8 warps split the
// inputs i; the warps' partial sums meet in shared memory. (One thread walking all bw inputs alone was
// bound by load latency: about 90 us per call at the 2B shape.)
constexpr int kBdCols = 32;

__global__ void __launch_bounds__(kWarps * 32) block_diag_k(float* out, const float* x, const void* w, WDt dt,
                                                            const void* b, WDt bdt, int T, int64_t blocks, int64_t bw) {
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

}  // namespace

void launch_gemv(float* out, const float* x, const void* w, WDt dt, const void* bias, WDt bdt, int64_t T, int64_t K,
                 int64_t N, cudaStream_t s) {
  if (T <= 0 || N <= 0) return;
  const bool vec = K % 8 == 0 && reinterpret_cast<uintptr_t>(w) % 16 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0;
  gemv_k<<<unsigned((N + kWarps - 1) / kWarps), kWarps * 32, 0, s>>>(out, x, w, dt, bias, bdt, int(T), K, N, vec);
}

void launch_gemv_parts(const GemvParts& parts, const float* x, WDt dt, WDt bdt, int64_t T, int64_t K, cudaStream_t s) {
  if (T <= 0 || parts.count <= 0) return;
  bool vec = K % 8 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0;
  int64_t columns = 0;
  for (int i = 0; i < parts.count; ++i) {
    vec = vec && reinterpret_cast<uintptr_t>(parts.w[i]) % 16 == 0;
    columns += parts.N[i];
  }
  if (columns > 0)
    gemv_parts_k<<<unsigned((columns + kWarps - 1) / kWarps), kWarps * 32, 0, s>>>(parts, x, dt, bdt, int(T), K, vec);
}

void launch_gated_gemv(float* out, const float* x, const void* wg, const void* bg, const void* wu, const void* bu,
                       WDt dt, WDt bdt, int64_t T, int64_t K, int64_t N, Act act, cudaStream_t s) {
  if (T <= 0 || N <= 0) return;
  const bool vec = K % 8 == 0 && reinterpret_cast<uintptr_t>(wg) % 16 == 0 &&
                   reinterpret_cast<uintptr_t>(wu) % 16 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0;
  gated_gemv_k<<<unsigned((N + kWarps - 1) / kWarps), kWarps * 32, 0, s>>>(out, x, wg, bg, wu, bu, dt, bdt, int(T), K,
                                                                          N, vec, act);
}

void launch_block_diag(float* out, const float* x, const void* w, WDt dt, const void* b, WDt bdt, int64_t T,
                       int64_t blocks, int64_t bw, cudaStream_t s) {
  const int64_t C = blocks * bw;
  if (T <= 0 || C <= 0) return;
  const int64_t tiles = (bw + kBdCols - 1) / kBdCols;
  block_diag_k<<<unsigned(blocks * tiles), kWarps * 32, 0, s>>>(out, x, w, dt, b, bdt, int(T), blocks, bw);
}

}  // namespace hl::cuda
