#include "hybridlens/model/final_logits.hpp"

namespace hl {

Tensor final_logits(Backend& be, const Tensor& x, const Tensor& norm_weight, float eps, bool one_plus_weight,
                    const Tensor& head, float soft_cap) {
  const int64_t R = x.dim(0), V = head.dim(0);
  Tensor normed = be.empty(DType::F32, {R, x.dim(1)});
  be.rms_norm(normed, x, norm_weight, eps, one_plus_weight);
  Tensor out = be.empty(DType::F32, {R, V});
  be.linear(out, normed, head, Tensor());
  if (soft_cap > 0) be.soft_cap(out, soft_cap);
  return out;
}

}  // namespace hl
