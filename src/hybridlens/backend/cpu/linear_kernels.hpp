#pragma once
// The kernels behind cpu::linear (out[t, n] = sum_k x[t, k] * w[n, k] + bias[n]), after the arguments were
// checked. Exposed for the tests and benchmarks, which call each path directly.
#include <cstdint>

#include "hybridlens/core/dtype.hpp"

namespace hl::cpu {

struct LinearArgs {
  const float* x = nullptr;  // [T, K], rows ldx floats apart
  const void* w = nullptr;   // [N, K] contiguous, dtype wdt
  DType wdt = DType::F32;
  const float* bias = nullptr;  // [N] or null
  float* out = nullptr;         // [T, N], rows ldo floats apart
  int64_t T = 0, K = 0, N = 0;
  int64_t ldx = 0, ldo = 0;     // row strides of x (>= K) and out (>= N)
};

// Up to this many rows the AVX-512 path streams the weights once through the GEMV kernel (bandwidth
// bound); beyond it the packed GEMM kernel (compute bound) takes over.
inline constexpr int64_t kGemvMaxRows = 8;

// Picks the kernel for the active ISA and the row count (what cpu::linear runs after its checks).
void run_linear(const LinearArgs& a);

// AVX-512 (call only when active_isa() == Isa::Avx512).
void linear_gemv_avx512(const LinearArgs& a);  // any T; efficient for small T
void linear_gemm_avx512(const LinearArgs& a);  // any T; efficient for large T
// Portable fallback: plain loops for small T, per-panel fp32 conversion + single-threaded OpenBLAS sgemm.
void linear_gemv_portable(const LinearArgs& a);
void linear_gemm_portable(const LinearArgs& a);

}  // namespace hl::cpu
