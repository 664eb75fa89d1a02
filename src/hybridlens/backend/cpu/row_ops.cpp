#include "hybridlens/backend/cpu/row_ops.hpp"

#include <algorithm>

#include "hybridlens/backend/cpu/checks.hpp"
#include "hybridlens/core/parallel.hpp"

namespace hl::cpu {
namespace {

void check_rows(const char* op, const std::vector<int32_t>& rows, int64_t limit, const Tensor& t) {
  for (size_t i = 0; i < rows.size(); ++i)
    HL_CHECK(rows[i] >= 0 && rows[i] < limit, op, ": rows[", i, "] = ", rows[i], " is outside ", t.describe());
}

}  // namespace

void gather_rows(Tensor& out, const Tensor& x, const std::vector<int32_t>& rows) {
  const char* op = "gather_rows";
  check_f32(op, "x", x, 2);
  check_f32(op, "out", out, 2);
  HL_CHECK(out.dim(0) == int64_t(rows.size()) && out.dim(1) == x.dim(1), op, ": out ", out.describe(),
           " expected F32[", rows.size(), ", ", x.dim(1), "] for x ", x.describe());
  check_rows(op, rows, x.dim(0), x);
  check_no_alias(op, "out", out, "x", x);
  const int64_t W = x.dim(1);
  const float* src = x.data<float>();
  float* dst = out.data<float>();
  parallel_for(int64_t(rows.size()), std::max<int64_t>(1, 16384 / std::max<int64_t>(W, 1)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) std::copy_n(src + int64_t(rows[size_t(i)]) * W, W, dst + i * W);
  });
}

void scatter_add_rows(Tensor& y, const Tensor& src, const std::vector<int32_t>& rows,
                      const std::vector<float>& weights) {
  const char* op = "scatter_add_rows";
  check_f32(op, "y", y, 2);
  check_f32(op, "src", src, 2);
  HL_CHECK(src.dim(0) == int64_t(rows.size()) && src.dim(1) == y.dim(1), op, ": src ", src.describe(),
           " expected F32[", rows.size(), ", ", y.dim(1), "] for y ", y.describe());
  HL_CHECK(weights.size() == rows.size(), op, ": ", weights.size(), " weights for ", rows.size(), " rows");
  check_rows(op, rows, y.dim(0), y);
  check_no_alias(op, "y", y, "src", src);
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
