#pragma once
// Device helpers shared by the kernels: reading a weight of any dtype as fp32, and the activations written
// as PyTorch's fp32 formulas (see backend/cpu/scalar_math.hpp for the CPU versions they mirror).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "hybridlens/backend/cuda/kernels.hpp"

namespace hl::cuda {

__device__ __forceinline__ float ldw(const void* p, WDt dt, int64_t i) {
  if (dt == WDt::BF16) {
    const uint32_t bits = uint32_t(static_cast<const uint16_t*>(p)[i]) << 16;
    return __uint_as_float(bits);
  }
  if (dt == WDt::F16) return __half2float(static_cast<const __half*>(p)[i]);
  return static_cast<const float*>(p)[i];
}

__device__ __forceinline__ float gelu_tanh_f(float x) {
  const float inner = 0.7978845608028654f * (x + 0.044715f * (x * x * x));
  return 0.5f * x * (1.0f + tanhf(inner));
}
__device__ __forceinline__ float silu_f(float x) { return x / (1.0f + expf(-x)); }
__device__ __forceinline__ float sigmoid_f(float x) { return 1.0f / (1.0f + expf(-x)); }
__device__ __forceinline__ float softplus_f(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

__device__ __forceinline__ float act_f(float x, Act a) {
  switch (a) {
    case Act::GeluTanh: return gelu_tanh_f(x);
    case Act::Silu: return silu_f(x);
    default: return softplus_f(x);
  }
}

inline unsigned blocks_for(int64_t n, int threads) { return unsigned((n + threads - 1) / threads); }

}  // namespace hl::cuda
