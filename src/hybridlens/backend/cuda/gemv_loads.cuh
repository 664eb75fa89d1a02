#pragma once
// What the few-row product kernels (gemv.cu, gemv_stream.cu) share: the block shape, how a lane reads 8
// consecutive weights with 16-byte loads and widens them to fp32, and how it adds their products to its sums
// (one expression for every kernel, so that they agree bit for bit).
#include <cstdint>

#include "hybridlens/backend/cuda/kernels.hpp"

namespace hl::cuda {

constexpr int kWarps = 8;

// 8 consecutive weights as loaded: one 16-byte word for 16-bit types, two for F32. Streaming loads: a weight
// is read once per step and should not evict what is reused (activations, the KV cache).
template <bool F32>
struct Raw8 {
  uint4 r[F32 ? 2 : 1];
};

template <bool F32>
__device__ __forceinline__ Raw8<F32> fetch8(const void* w, int64_t i) {
  Raw8<F32> v;
  if constexpr (F32) {
    const uint4* p = reinterpret_cast<const uint4*>(static_cast<const float*>(w) + i);
    v.r[0] = __ldcs(p);
    v.r[1] = __ldcs(p + 1);
  } else {
    v.r[0] = __ldcs(reinterpret_cast<const uint4*>(static_cast<const uint16_t*>(w) + i));
  }
  return v;
}

template <bool F32>
__device__ __forceinline__ void unpack8(const Raw8<F32>& raw, WDt dt, float* v) {
  const uint32_t words[4] = {raw.r[0].x, raw.r[0].y, raw.r[0].z, raw.r[0].w};
  if constexpr (F32) {
    const uint32_t more[4] = {raw.r[1].x, raw.r[1].y, raw.r[1].z, raw.r[1].w};
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      v[j] = __uint_as_float(words[j]);
      v[4 + j] = __uint_as_float(more[j]);
    }
  } else {
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
}

__device__ __forceinline__ void load8(const void* w, WDt dt, int64_t i, float* v) {
  if (dt == WDt::F32)
    unpack8<true>(fetch8<true>(w, i), dt, v);
  else
    unpack8<false>(fetch8<false>(w, i), dt, v);
}

// acc[j][t] += w_j[kk .. kk + 8) . x[t, kk .. kk + 8) for the W weights' 8 loaded values and the rows t < T.
template <int W, bool F32, int R>
__device__ __forceinline__ void add_products8(float (&acc)[W][R], const Raw8<F32> (&raw)[W], WDt dt,
                                              const float* __restrict__ x, int T, int64_t K, int64_t kk) {
  float wv[W][8];
#pragma unroll
  for (int j = 0; j < W; ++j) unpack8<F32>(raw[j], dt, wv[j]);
#pragma unroll
  for (int t = 0; t < R; ++t) {
    if (t >= T) break;
    const float4 a = *reinterpret_cast<const float4*>(x + t * K + kk);
    const float4 b = *reinterpret_cast<const float4*>(x + t * K + kk + 4);
#pragma unroll
    for (int j = 0; j < W; ++j)
      acc[j][t] += wv[j][0] * a.x + wv[j][1] * a.y + wv[j][2] * a.z + wv[j][3] * a.w + wv[j][4] * b.x +
                   wv[j][5] * b.y + wv[j][6] * b.z + wv[j][7] * b.w;
  }
}

}  // namespace hl::cuda
