#pragma once
// The last step every architecture shares: final norm, vocabulary projection, optional soft cap, and
// the rows appended to the host logits.
#include <vector>

#include "hybridlens/backend/backend.hpp"

namespace hl {

// logits += rows of cap(head(norm(x))); soft_cap <= 0 means none.
void append_final_logits(Backend& be, const Tensor& x, const Tensor& norm_weight, float eps, bool one_plus_weight,
                         const Tensor& head, float soft_cap, std::vector<float>& logits);

}  // namespace hl
