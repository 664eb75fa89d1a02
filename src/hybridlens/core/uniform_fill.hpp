#pragma once
// The counter-based uniform values of random weights: element i of a tensor with stream s is
// lo + (hi - lo) * u with u = (splitmix64(s ^ i * 0xd1b54a32d192ed03) >> 40) / 2^24, rounded to the tensor's
// dtype to nearest even. Any element can be made alone, so the CUDA backend fills device memory with the very
// bits that `hybridlens random-checkpoint` writes to a file.
#include <cstdint>

#include "hybridlens/core/dtype.hpp"

#if defined(__CUDACC__)
#define HL_HOST_DEVICE __host__ __device__
#else
#define HL_HOST_DEVICE
#endif

namespace hl {

constexpr uint64_t kUniformIndexMul = 0xd1b54a32d192ed03ull;

HL_HOST_DEVICE inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

HL_HOST_DEVICE inline float uniform_value(uint64_t stream, int64_t i, float lo, float hi) {
  const float u = float(splitmix64(stream ^ uint64_t(i) * kUniformIndexMul) >> 40) * (1.0f / 16777216.0f);
#if defined(__CUDA_ARCH__)
  // nvcc would fuse the product and the sum into one FMA (one rounding instead of two), which changes the
  // last bit whenever (hi - lo) * u is inexact; the explicit roundings keep the host's two.
  return __fadd_rn(lo, __fmul_rn(hi - lo, u));
#else
  return lo + (hi - lo) * u;
#endif
}

// Fills host memory (F32, BF16 or F16), in parallel.
void fill_uniform_host(void* dst, DType dtype, int64_t n, float lo, float hi, uint64_t stream);

}  // namespace hl
