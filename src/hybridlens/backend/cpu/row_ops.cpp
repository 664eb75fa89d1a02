#include "hybridlens/backend/cpu/row_ops.hpp"

#include <algorithm>

#include "hybridlens/backend/op_checks.hpp"
#include "hybridlens/core/parallel.hpp"

namespace hl::cpu {

void gather_rows(Tensor& out, const Tensor& x, const std::vector<int32_t>& rows) {
  checks::check_gather_rows_args(DeviceKind::CPU, out, x, rows);
  const int64_t W = x.dim(1);
  const float* src = x.data<float>();
  float* dst = out.data<float>();
  parallel_for(int64_t(rows.size()), std::max<int64_t>(1, 16384 / std::max<int64_t>(W, 1)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) std::copy_n(src + int64_t(rows[size_t(i)]) * W, W, dst + i * W);
  });
}

void scatter_add_rows(Tensor& y, const Tensor& src, const std::vector<int32_t>& rows,
                      const std::vector<float>& weights) {
  checks::check_scatter_add_rows_args(DeviceKind::CPU, y, src, rows, weights);
  const int64_t W = y.dim(1), R = int64_t(rows.size());
  const float* s = src.data<float>();
  float* d = y.data<float>();
  // Split over columns: each thread owns a column range of every row, so repeated rows need no locks and
  // are summed in the order of i.
  const int64_t grain = std::max<int64_t>(64, 16384 / std::max<int64_t>(R, 1));
  parallel_for(W, grain, [&](int64_t c0, int64_t c1) {
    for (int64_t i = 0; i < R; ++i) {
      const float w = weights[size_t(i)];
      const float* si = s + i * W;
      float* di = d + int64_t(rows[size_t(i)]) * W;
#pragma omp simd
      for (int64_t c = c0; c < c1; ++c) di[c] += w * si[c];
    }
  });
}

}  // namespace hl::cpu
