#pragma once
// Plain reference versions of the row gather/scatter used by mixture-of-experts layers (backend.hpp
// states their contracts); the CPU kernels are tested against them.
#include <cstdint>
#include <vector>

#include "hybridlens/core/tensor.hpp"

namespace hl::reference {

// out[i, :] = x[rows[i], :].
void gather_rows(Tensor& out, const Tensor& x, const std::vector<int32_t>& rows);

// y[rows[i], :] += weights[i] * src[i, :], in the order of i.
void scatter_add_rows(Tensor& y, const Tensor& src, const std::vector<int32_t>& rows,
                      const std::vector<float>& weights);

}  // namespace hl::reference
