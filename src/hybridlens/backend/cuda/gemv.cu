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

// One warp per output column n.
__global__ void gemv_k(float* out, const float* __restrict__ x, const void* __restrict__ w, WDt dt, const void* bias, WDt bdt, int T, int64_t K,
                       int64_t N, bool vec) {
  const int lane = threadIdx.x & 31;
  const int64_t n = int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (n >= N) return;
  float acc[kGemvMaxRows];
#pragma unroll
  for (int t = 0; t < kGemvMaxRows; ++t) acc[t] = 0.0f;
  const int64_t row = n * K;
  if (vec) {
#pragma unroll 4
    for (int64_t k = int64_t(lane) * 8; k < K; k += 256) {
      float wv[8];
      load8(w, dt, row + k, wv);
#pragma unroll
      for (int t = 0; t < kGemvMaxRows; ++t) {
        if (t >= T) break;
        const float4 a = *reinterpret_cast<const float4*>(x + t * K + k);
        const float4 b = *reinterpret_cast<const float4*>(x + t * K + k + 4);
        acc[t] += wv[0] * a.x + wv[1] * a.y + wv[2] * a.z + wv[3] * a.w + wv[4] * b.x + wv[5] * b.y + wv[6] * b.z +
                  wv[7] * b.w;
      }
    }
  } else {
    for (int64_t k = lane; k < K; k += 32) {
      const float wv = ldw(w, dt, row + k);
#pragma unroll
      for (int t = 0; t < kGemvMaxRows; ++t) {
        if (t >= T) break;
        acc[t] += wv * x[t * K + k];
      }
    }
  }
#pragma unroll
  for (int t = 0; t < kGemvMaxRows; ++t) {
    if (t >= T) break;
    float v = acc[t];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0) out[int64_t(t) * N + n] = v + (bias ? ldw(bias, bdt, n) : 0.0f);
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

void launch_block_diag(float* out, const float* x, const void* w, WDt dt, const void* b, WDt bdt, int64_t T,
                       int64_t blocks, int64_t bw, cudaStream_t s) {
  const int64_t C = blocks * bw;
  if (T <= 0 || C <= 0) return;
  const int64_t tiles = (bw + kBdCols - 1) / kBdCols;
  block_diag_k<<<unsigned(blocks * tiles), kWarps * 32, 0, s>>>(out, x, w, dt, b, bdt, int(T), blocks, bw);
}

}  // namespace hl::cuda
