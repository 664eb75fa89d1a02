// linear: argument checks and the choice of kernel (linear_avx512.cpp, linear_portable.cpp).
#include <algorithm>

#include "hybridlens/backend/cpu/isa.hpp"
#include "hybridlens/backend/cpu/linear_kernels.hpp"
#include "hybridlens/backend/cpu/ops.hpp"
#include "hybridlens/backend/cpu/weights.hpp"
#include "hybridlens/backend/op_checks.hpp"

namespace hl::cpu {

void linear(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias) {
  checks::check_linear_args(DeviceKind::CPU, out, x, w, bias);
  const int64_t T = x.dim(0), K = x.dim(1), N = w.dim(0);
  if (T == 0 || N == 0) return;

  LinearArgs a;
  a.x = x.data<float>();
  a.w = w.raw();
  a.wdt = w.dtype();
  std::vector<float> bias_f32;
  a.bias = bias.defined() ? weights_as_f32(bias, bias_f32) : nullptr;
  a.out = out.data<float>();
  a.T = T;
  a.K = K;
  a.N = N;
  a.ldx = K;
  a.ldo = N;
  run_linear(a);
}

void run_linear(const LinearArgs& a) {
  if (a.T == 0 || a.N == 0) return;
  if (a.K == 0) {  // empty sums: out = bias
    for (int64_t t = 0; t < a.T; ++t)
      for (int64_t n = 0; n < a.N; ++n) a.out[t * a.ldo + n] = a.bias ? a.bias[n] : 0.0f;
    return;
  }
  if (active_isa() == Isa::Avx512) {
    if (a.T <= kGemvMaxRows) linear_gemv_avx512(a);
    else linear_gemm_avx512(a);
  } else {
    if (a.T <= kGemvMaxRows) linear_gemv_portable(a);
    else linear_gemm_portable(a);
  }
}

}  // namespace hl::cpu
