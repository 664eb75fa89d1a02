// rms_norm as transformers computes it in fp32:
//   out = x * rsqrt(mean(x^2) + eps) * (1 + w)      (RecurrentGemma: weights stored as offsets from 1)
//   out = x * rsqrt(mean(x^2) + eps) * w            (Jamba, Mamba)
// The mean of squares is accumulated in double (torch's fp32 reduction is pairwise; double is at least as
// accurate), then rounded to fp32 before the rsqrt like torch's fp32 tensor.
#include <cmath>
#include <vector>

#include "hybridlens/backend/cpu/checks.hpp"
#include "hybridlens/backend/cpu/ops.hpp"
#include "hybridlens/backend/cpu/scratch.hpp"
#include "hybridlens/backend/cpu/weights.hpp"
#include "hybridlens/core/parallel.hpp"

namespace hl::cpu {

void rms_norm(Tensor& out, const Tensor& x, const Tensor& w, float eps, bool one_plus_weight) {
  constexpr const char* op = "rms_norm";
  check_f32(op, "x", x, 2);
  check_f32(op, "out", out, 2);
  check_weight(op, "w", w, 1);
  check_same_shape(op, "out", out, "x", x);
  check_alias_exact_or_none(op, "out", out, "x", x);
  const int64_t T = x.dim(0), C = x.dim(1);
  HL_CHECK(w.dim(0) == C, op, ": w ", w.describe(), " must have ", C, " elements for x ", x.describe());
  HL_CHECK(eps >= 0.0f, op, ": eps must be >= 0, got ", eps);
  if (T == 0 || C == 0) return;

  // The effective per-channel scale, (1 + w) or w, in fp32 as torch forms it.
  std::vector<float> scale(static_cast<size_t>(C));
  weights_to_f32(scale.data(), w);
  if (one_plus_weight)
    for (float& s : scale) s = 1.0f + s;

  const float* xs = x.data<float>();
  float* o = out.data<float>();
  const int64_t grain = std::max<int64_t>(1, 8192 / C);
  parallel_for(T, grain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const float* row = xs + t * C;
      double ss = 0.0;
#pragma omp simd reduction(+ : ss)
      for (int64_t c = 0; c < C; ++c) ss += double(row[c]) * double(row[c]);
      const float mean = float(ss / double(C));
      const float inv = 1.0f / std::sqrt(mean + eps);
      float* dst = o + t * C;
      for (int64_t c = 0; c < C; ++c) dst[c] = (row[c] * inv) * scale[size_t(c)];
    }
  });
}

}  // namespace hl::cpu
