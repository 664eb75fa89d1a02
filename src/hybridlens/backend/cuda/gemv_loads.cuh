#pragma once
// What the few-row product kernels (gemv.cu, gemv_stream.cu) share: the block shape and how a lane reads 8
// consecutive weights with 16-byte loads and widens them to fp32.
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

}  // namespace hl::cuda
