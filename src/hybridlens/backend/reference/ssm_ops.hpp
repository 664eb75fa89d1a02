#pragma once
// Plain reference version of the selective scan (backend.hpp states the contract), written for clarity:
// one element at a time in the order the formulas read, with the standard library's exp. The optimized
// CPU kernel is tested against it.
#include <cstdint>

#include "hybridlens/core/tensor.hpp"

namespace hl::reference {

// softplus as torch computes it (beta 1, threshold 20): x for x > 20, else log1p(exp(x)).
float softplus(float x);

// Mamba-1 selective scan; see Backend::selective_scan.
void selective_scan(Tensor& y, const Tensor& x, const Tensor& delta, const Tensor& A_log, const Tensor& B,
                    const Tensor& C, const Tensor& D, Tensor& state);

}  // namespace hl::reference
