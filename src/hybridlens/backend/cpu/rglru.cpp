// rglru_scan: the RG-LRU recurrence of RecurrentGemma (see backend.hpp for the formula), fp32 state.
// Channels are independent, so threads split the channels; each walks the whole sequence.
#include <algorithm>
#include <cmath>
#include <vector>

#include "hybridlens/backend/cpu/checks.hpp"
#include "hybridlens/backend/cpu/ops.hpp"
#include "hybridlens/backend/cpu/scalar_math.hpp"
#include "hybridlens/backend/cpu/weights.hpp"
#include "hybridlens/core/parallel.hpp"

namespace hl::cpu {

void rglru_scan(Tensor& out, const Tensor& x, const Tensor& gate_x_pre, const Tensor& gate_a_pre,
                const Tensor& recurrent_param, const std::vector<int64_t>& positions, Tensor& h) {
  constexpr const char* op = "rglru_scan";
  check_f32(op, "x", x, 2);
  check_f32(op, "gate_x_pre", gate_x_pre, 2);
  check_f32(op, "gate_a_pre", gate_a_pre, 2);
  check_f32(op, "out", out, 2);
  check_same_shape(op, "gate_x_pre", gate_x_pre, "x", x);
  check_same_shape(op, "gate_a_pre", gate_a_pre, "x", x);
  check_same_shape(op, "out", out, "x", x);
  const int64_t T = x.dim(0), C = x.dim(1);
  check_weight(op, "recurrent_param", recurrent_param, 1);
  HL_CHECK(recurrent_param.dim(0) == C, op, ": recurrent_param ", recurrent_param.describe(), " must have ", C,
           " elements for x ", x.describe());
  check_f32(op, "h", h, 1);
  HL_CHECK(h.dim(0) == C, op, ": h ", h.describe(), " must be F32[", C, "] for x ", x.describe());
  HL_CHECK(int64_t(positions.size()) == T, op, ": ", positions.size(), " positions given for x ", x.describe());
  for (int64_t t = 0; t < T; ++t)
    HL_CHECK(positions[size_t(t)] >= 0, op, ": negative position ", positions[size_t(t)], " at row ", t);
  check_no_alias(op, "out", out, "x", x);
  check_no_alias(op, "out", out, "gate_x_pre", gate_x_pre);
  check_no_alias(op, "out", out, "gate_a_pre", gate_a_pre);
  check_no_alias(op, "out", out, "h", h);
  if (T == 0 || C == 0) return;

  // softplus(recurrent_param) once per channel (fp32, threshold 20 as torch).
  std::vector<float> sp(static_cast<size_t>(C));
  weights_to_f32(sp.data(), recurrent_param);
  for (float& v : sp) v = softplus(v);

  const float* xs = x.data<float>();
  const float* gxp = gate_x_pre.data<float>();
  const float* gap = gate_a_pre.data<float>();
  float* o = out.data<float>();
  float* hs = h.data<float>();
  // Chunks of 64 channels keep each thread's rows of the inputs in whole cache lines.
  const int64_t chunks = (C + 63) / 64;
  parallel_for(chunks, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, T)), [&](int64_t k0, int64_t k1) {
    const int64_t c0 = k0 * 64, c1 = std::min(C, k1 * 64);
    for (int64_t t = 0; t < T; ++t) {
      const bool reset = positions[size_t(t)] == 0;
      const int64_t row = t * C;
      for (int64_t c = c0; c < c1; ++c) {
        const float gx = sigmoid(gxp[row + c]);
        const float ga = sigmoid(gap[row + c]);
        const float log_a = -8.0f * ga * sp[size_t(c)];
        const float a = std::exp(log_a);
        const float mult = reset ? 1.0f : std::sqrt(-std::expm1(2.0f * log_a));
        const float normalized = (xs[row + c] * gx) * mult;
        const float hn = (reset ? 0.0f : a * hs[c]) + normalized;
        hs[c] = hn;
        o[row + c] = hn;
      }
    }
  });
}

}  // namespace hl::cpu
