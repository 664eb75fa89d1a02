#include "hybridlens/backend/backend.hpp"

namespace hl {

void Backend::gated_linear(Tensor& out, const Tensor& x, const Tensor& w_gate, const Tensor& b_gate,
                           const Tensor& w_up, const Tensor& b_up, Activation act) {
  Tensor up = empty(DType::F32, out.shape());
  linear(out, x, w_gate, b_gate);
  linear(up, x, w_up, b_up);
  activation_mul(out, out, up, act);
}

void Backend::linear_parts(const Tensor& x, std::span<const LinearPart> parts) {
  for (const LinearPart& p : parts) linear(*p.out, x, *p.w, *p.bias);
}

void Backend::block_diag_parts(const Tensor& x, std::span<const LinearPart> parts) {
  for (const LinearPart& p : parts) block_diag_linear(*p.out, x, *p.w, *p.bias);
}

void Backend::add_rms_norm(Tensor& x, const Tensor& t, Tensor& h, const Tensor& w, float eps, bool one_plus_weight) {
  add_inplace(x, t);
  rms_norm(h, x, w, eps, one_plus_weight);
}

}  // namespace hl
