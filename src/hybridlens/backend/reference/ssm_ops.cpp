#include "hybridlens/backend/reference/ssm_ops.hpp"

#include <cmath>

#include "hybridlens/core/error.hpp"

namespace hl::reference {
namespace {

float weight_at(const Tensor& w, int64_t i) {
  switch (w.dtype()) {
    case DType::BF16: return bf16_to_f32(w.data<uint16_t>()[i]);
    case DType::F16: return f16_to_f32(w.data<uint16_t>()[i]);
    default: return w.data<float>()[i];
  }
}

}  // namespace

float softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }

void selective_scan(Tensor& y, const Tensor& x, const Tensor& delta, const Tensor& A_log, const Tensor& B,
                    const Tensor& C, const Tensor& D, Tensor& state) {
  const int64_t T = x.dim(0), Din = x.dim(1), N = A_log.dim(1);
  HL_CHECK(delta.shape() == x.shape() && y.shape() == x.shape() && A_log.dim(0) == Din && B.dim(0) == T &&
               B.dim(1) == N && C.shape() == B.shape() && D.numel() == Din && state.dim(0) == Din &&
               state.dim(1) == N,
           "reference selective_scan: inconsistent shapes");
  float* h = state.data<float>();
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t d = 0; d < Din; ++d) {
      const float xv = x.data<float>()[t * Din + d];
      const float dt = delta.data<float>()[t * Din + d];
      float acc = 0;
      for (int64_t n = 0; n < N; ++n) {
        const float a = -std::exp(weight_at(A_log, d * N + n));
        const float b = B.data<float>()[t * N + n];
        const float c = C.data<float>()[t * N + n];
        float& s = h[d * N + n];
        s = std::exp(dt * a) * s + (dt * b) * xv;
        acc += s * c;
      }
      y.data<float>()[t * Din + d] = acc + weight_at(D, d) * xv;
    }
  }
}

}  // namespace hl::reference
