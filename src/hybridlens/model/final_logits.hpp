#pragma once
// The last step every architecture shares: final norm, vocabulary projection, optional soft cap.
#include "hybridlens/backend/backend.hpp"

namespace hl {

// cap(head(norm(x))), [rows of x, vocab] on the backend; soft_cap <= 0 means none.
Tensor final_logits(Backend& be, const Tensor& x, const Tensor& norm_weight, float eps, bool one_plus_weight,
                    const Tensor& head, float soft_cap);

}  // namespace hl
