// embed: gathers table rows (any weight dtype) into fp32 activations, times a scale.
#include "hybridlens/backend/cpu/checks.hpp"
#include "hybridlens/backend/cpu/ops.hpp"
#include "hybridlens/backend/cpu/weights.hpp"
#include "hybridlens/core/parallel.hpp"

namespace hl::cpu {

void embed(Tensor& out, const Tensor& table, const std::vector<int32_t>& ids, float scale) {
  constexpr const char* op = "embed";
  check_weight(op, "table", table, 2);
  check_f32(op, "out", out, 2);
  const int64_t V = table.dim(0), D = table.dim(1), T = int64_t(ids.size());
  HL_CHECK(out.dim(0) == T && out.dim(1) == D, op, ": out ", out.describe(), " must be F32[", T, ", ", D,
           "] for ", T, " ids and table ", table.describe());
  for (int64_t t = 0; t < T; ++t)
    HL_CHECK(ids[size_t(t)] >= 0 && ids[size_t(t)] < V, op, ": token id ", ids[size_t(t)], " at position ", t,
             " is outside the vocabulary [0, ", V, ") of table ", table.describe());
  float* o = out.data<float>();
  parallel_for(T, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, D)), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      float* dst = o + t * D;
      weights_to_f32(dst, table.raw(), table.dtype(), int64_t(ids[size_t(t)]) * D, D);
      if (scale != 1.0f)
        for (int64_t d = 0; d < D; ++d) dst[d] *= scale;
    }
  });
}

}  // namespace hl::cpu
