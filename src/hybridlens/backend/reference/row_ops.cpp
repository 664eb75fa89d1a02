#include "hybridlens/backend/reference/row_ops.hpp"

#include "hybridlens/core/error.hpp"

namespace hl::reference {

void gather_rows(Tensor& out, const Tensor& x, const std::vector<int32_t>& rows) {
  const int64_t W = x.dim(1);
  HL_CHECK(out.dim(0) == int64_t(rows.size()) && out.dim(1) == W, "reference gather_rows: inconsistent shapes");
  for (size_t i = 0; i < rows.size(); ++i) {
    HL_CHECK(rows[i] >= 0 && rows[i] < x.dim(0), "reference gather_rows: row ", rows[i], " out of range");
    for (int64_t j = 0; j < W; ++j) out.data<float>()[int64_t(i) * W + j] = x.data<float>()[rows[i] * W + j];
  }
}

void scatter_add_rows(Tensor& y, const Tensor& src, const std::vector<int32_t>& rows,
                      const std::vector<float>& weights) {
  const int64_t W = y.dim(1);
  HL_CHECK(src.dim(0) == int64_t(rows.size()) && src.dim(1) == W && weights.size() == rows.size(),
           "reference scatter_add_rows: inconsistent shapes");
  for (size_t i = 0; i < rows.size(); ++i) {
    HL_CHECK(rows[i] >= 0 && rows[i] < y.dim(0), "reference scatter_add_rows: row ", rows[i], " out of range");
    for (int64_t j = 0; j < W; ++j)
      y.data<float>()[rows[i] * W + j] += weights[i] * src.data<float>()[int64_t(i) * W + j];
  }
}

}  // namespace hl::reference
