// Argument validation shared by the CPU and CUDA backends (see op_checks.hpp).
#include "hybridlens/backend/op_checks.hpp"

#include <utility>

#include "hybridlens/backend/tensor_checks.hpp"

namespace hl::checks {
namespace {

void check_rows(const char* op, const std::vector<int32_t>& rows, int64_t limit, const Tensor& t) {
  for (size_t i = 0; i < rows.size(); ++i)
    HL_CHECK(rows[i] >= 0 && rows[i] < limit, op, ": rows[", i, "] = ", rows[i], " is outside ", t.describe());
}

}  // namespace

void check_linear_args(DeviceKind kind, const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias) {
  constexpr const char* op = "linear";
  check_f32(kind, op, "x", x, 2);
  check_weight(kind, op, "w", w, 2);
  check_f32(kind, op, "out", out, 2);
  const int64_t T = x.dim(0), K = x.dim(1), N = w.dim(0);
  HL_CHECK(w.dim(1) == K, op, ": x ", x.describe(), " and w ", w.describe(), " disagree on K (w is [N, K])");
  HL_CHECK(out.dim(0) == T && out.dim(1) == N, op, ": out ", out.describe(), " must be F32[", T, ", ", N,
           "] for x ", x.describe(), " and w ", w.describe());
  if (bias.defined()) {
    check_weight(kind, op, "bias", bias, 1);
    HL_CHECK(bias.dim(0) == N, op, ": bias ", bias.describe(), " must have ", N, " elements for w ", w.describe());
    check_no_alias(op, "out", out, "bias", bias);
  }
  check_no_alias(op, "out", out, "x", x);
  check_no_alias(op, "out", out, "w", w);
}

void check_block_diag_linear_args(DeviceKind kind, const Tensor& out, const Tensor& x, const Tensor& w,
                                  const Tensor& b) {
  constexpr const char* op = "block_diag_linear";
  check_f32(kind, op, "x", x, 2);
  check_f32(kind, op, "out", out, 2);
  check_weight(kind, op, "w", w, 3);
  check_same_shape(op, "out", out, "x", x);
  const int64_t C = x.dim(1), blocks = w.dim(0), bw = w.dim(1);
  HL_CHECK(w.dim(2) == bw && blocks * bw == C, op, ": w ", w.describe(), " must be [blocks, bw, bw] with blocks * bw = ",
           C, " for x ", x.describe());
  if (b.defined()) {
    check_weight(kind, op, "b", b, 2);
    HL_CHECK(b.dim(0) == blocks && b.dim(1) == bw, op, ": b ", b.describe(), " must be [", blocks, ", ", bw,
             "] for w ", w.describe());
    check_no_alias(op, "out", out, "b", b);
  }
  check_no_alias(op, "out", out, "x", x);
  check_no_alias(op, "out", out, "w", w);
}

void check_conv1d_causal_args(DeviceKind kind, const Tensor& out, const Tensor& x, const Tensor& w,
                              const Tensor& bias, const Tensor& state) {
  constexpr const char* op = "conv1d_causal";
  check_f32(kind, op, "x", x, 2);
  check_f32(kind, op, "out", out, 2);
  check_defined(kind, op, "w", w);
  HL_CHECK(w.ndim() == 2 || (w.ndim() == 3 && w.dim(1) == 1), op, ": w must be [C, 1, width] or [C, width], got ",
           w.describe());
  check_weight(kind, op, "w", w, w.ndim());
  check_same_shape(op, "out", out, "x", x);
  const int64_t C = x.dim(1), width = w.dim(-1);
  HL_CHECK(w.dim(0) == C && width >= 1, op, ": w ", w.describe(), " must be [", C, ", 1, width >= 1] for x ",
           x.describe());
  if (bias.defined()) {
    check_weight(kind, op, "bias", bias, 1);
    HL_CHECK(bias.dim(0) == C, op, ": bias ", bias.describe(), " must have ", C, " elements for x ", x.describe());
  }
  check_f32(kind, op, "state", state, 2);
  HL_CHECK(state.dim(0) == width - 1 && state.dim(1) == C, op, ": state ", state.describe(), " must be F32[",
           width - 1, ", ", C, "] for w ", w.describe());
  check_no_alias(op, "out", out, "x", x);
  check_no_alias(op, "out", out, "state", state);
  check_no_alias(op, "state", state, "x", x);
}

void check_rglru_scan_args(DeviceKind kind, const Tensor& out, const Tensor& x, const Tensor& gate_x_pre,
                           const Tensor& gate_a_pre, const Tensor& recurrent_param,
                           const std::vector<int64_t>& positions, const Tensor& h) {
  constexpr const char* op = "rglru_scan";
  check_f32(kind, op, "x", x, 2);
  check_f32(kind, op, "gate_x_pre", gate_x_pre, 2);
  check_f32(kind, op, "gate_a_pre", gate_a_pre, 2);
  check_f32(kind, op, "out", out, 2);
  check_same_shape(op, "gate_x_pre", gate_x_pre, "x", x);
  check_same_shape(op, "gate_a_pre", gate_a_pre, "x", x);
  check_same_shape(op, "out", out, "x", x);
  const int64_t T = x.dim(0), C = x.dim(1);
  check_weight(kind, op, "recurrent_param", recurrent_param, 1);
  HL_CHECK(recurrent_param.dim(0) == C, op, ": recurrent_param ", recurrent_param.describe(), " must have ", C,
           " elements for x ", x.describe());
  check_f32(kind, op, "h", h, 1);
  HL_CHECK(h.dim(0) == C, op, ": h ", h.describe(), " must be F32[", C, "] for x ", x.describe());
  HL_CHECK(int64_t(positions.size()) == T, op, ": ", positions.size(), " positions given for x ", x.describe());
  for (int64_t t = 0; t < T; ++t)
    HL_CHECK(positions[size_t(t)] >= 0, op, ": negative position ", positions[size_t(t)], " at row ", t);
  check_no_alias(op, "out", out, "x", x);
  check_no_alias(op, "out", out, "gate_x_pre", gate_x_pre);
  check_no_alias(op, "out", out, "gate_a_pre", gate_a_pre);
  check_no_alias(op, "out", out, "h", h);
}

void check_selective_scan_args(DeviceKind kind, const Tensor& y, const Tensor& x, const Tensor& delta,
                               const Tensor& A_log, const Tensor& B, const Tensor& C, const Tensor& D,
                               const Tensor& state) {
  const char* op = "selective_scan";
  check_f32(kind, op, "x", x, 2);
  check_f32(kind, op, "delta", delta, 2);
  check_f32(kind, op, "y", y, 2);
  check_f32(kind, op, "B", B, 2);
  check_f32(kind, op, "C", C, 2);
  check_f32(kind, op, "state", state, 2);
  check_weight(kind, op, "A_log", A_log, 2);
  check_defined(kind, op, "D", D);
  const int64_t T = x.dim(0), Din = x.dim(1), N = A_log.dim(1);
  check_same_shape(op, "x", x, "delta", delta);
  check_same_shape(op, "x", x, "y", y);
  HL_CHECK(A_log.dim(0) == Din, op, ": A_log ", A_log.describe(), " does not match x ", x.describe(),
           " (expected [", Din, ", N])");
  HL_CHECK(B.dim(0) == T && B.dim(1) == N, op, ": B ", B.describe(), " expected F32[", T, ", ", N, "]");
  check_same_shape(op, "B", B, "C", C);
  HL_CHECK(D.numel() == Din && (D.dtype() == DType::F32 || D.dtype() == DType::BF16 || D.dtype() == DType::F16),
           op, ": D ", D.describe(), " expected [", Din, "] F32, BF16 or F16");
  HL_CHECK(state.dim(0) == Din && state.dim(1) == N, op, ": state ", state.describe(), " expected F32[", Din,
           ", ", N, "]");
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"x", &x}, {"delta", &delta}, {"B", &B},
                                {"C", &C}, {"state", &state}})
    check_no_alias(op, "y", y, name, *t);
  check_no_alias(op, "state", state, "x", x);
  check_no_alias(op, "state", state, "delta", delta);
}

void check_gather_rows_args(DeviceKind kind, const Tensor& out, const Tensor& x, const std::vector<int32_t>& rows) {
  const char* op = "gather_rows";
  check_f32(kind, op, "x", x, 2);
  check_f32(kind, op, "out", out, 2);
  HL_CHECK(out.dim(0) == int64_t(rows.size()) && out.dim(1) == x.dim(1), op, ": out ", out.describe(),
           " expected F32[", rows.size(), ", ", x.dim(1), "] for x ", x.describe());
  check_rows(op, rows, x.dim(0), x);
  check_no_alias(op, "out", out, "x", x);
}

void check_scatter_add_rows_args(DeviceKind kind, const Tensor& y, const Tensor& src,
                                 const std::vector<int32_t>& rows, const std::vector<float>& weights) {
  const char* op = "scatter_add_rows";
  check_f32(kind, op, "y", y, 2);
  check_f32(kind, op, "src", src, 2);
  HL_CHECK(src.dim(0) == int64_t(rows.size()) && src.dim(1) == y.dim(1), op, ": src ", src.describe(),
           " expected F32[", rows.size(), ", ", y.dim(1), "] for y ", y.describe());
  HL_CHECK(weights.size() == rows.size(), op, ": ", weights.size(), " weights for ", rows.size(), " rows");
  check_rows(op, rows, y.dim(0), y);
  check_no_alias(op, "y", y, "src", src);
}

}  // namespace hl::checks
