#pragma once
// CPU row gather/scatter for mixture-of-experts layers; see Backend::gather_rows, scatter_add_rows.
#include <cstdint>
#include <vector>

#include "hybridlens/core/tensor.hpp"

namespace hl::cpu {

// out[i, :] = x[rows[i], :]. x: F32 [R, W], out: F32 [rows.size(), W]; every row index is checked.
void gather_rows(Tensor& out, const Tensor& x, const std::vector<int32_t>& rows);

// y[rows[i], :] += weights[i] * src[i, :]. y: F32 [R, W], src: F32 [rows.size(), W]. Rows may repeat;
// repeated rows are accumulated in the order of i, so the result does not depend on the thread count.
void scatter_add_rows(Tensor& y, const Tensor& src, const std::vector<int32_t>& rows,
                      const std::vector<float>& weights);

}  // namespace hl::cpu
