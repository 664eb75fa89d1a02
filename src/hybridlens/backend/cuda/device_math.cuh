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

// x = hi + lo to about 22 bits where both are normal fp16 (the three-pass products of attention_fp16.cu)
__device__ __forceinline__ void split_half(float x, __half& hi, __half& lo) {
  hi = __float2half_rn(x);
  lo = __float2half_rn(x - __half2float(hi));  // x - hi is exact in fp32
}

inline unsigned blocks_for(int64_t n, int threads) { return unsigned((n + threads - 1) / threads); }

// Grid-stride loop over [0, n) for kernels launched with stride_blocks: the grid is capped, so a block walks
// many elements and per-block costs (pdl.cuh's instructions, measured at ~10% of a 2B prefill when every
// element had its own thread) are paid a bounded number of times.
#define HL_GRID_STRIDE(i, n) \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

// About one wave of 256-thread blocks on an H200 (132 SMs x 8).
constexpr int64_t kMaxStrideBlocks = 1024;
inline unsigned stride_blocks(int64_t n, int threads) {
  const int64_t b = (n + threads - 1) / threads;
  return unsigned(b < kMaxStrideBlocks ? b : kMaxStrideBlocks);
}

}  // namespace hl::cuda
