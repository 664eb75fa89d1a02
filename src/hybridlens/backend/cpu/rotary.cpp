// rotary: rotate-half rotary embedding on the first rot_dims of every head, computed like transformers'
// RecurrentGemma in fp32: inv_freq[i] = 1 / theta^(2i / rot_dims) (fp32 pow and division), the angle is
// float(position) * inv_freq[i] rounded to fp32, and
//   x'[i] = x[i] cos - x[i + rot/2] sin   (i < rot/2),   x'[i] = x[i] cos + x[i - rot/2] sin   (i >= rot/2),
// with cos/sin of angle index i mod rot/2. Dimensions from rot_dims on are untouched.
#include <cmath>
#include <vector>

#include "hybridlens/backend/cpu/checks.hpp"
#include "hybridlens/backend/cpu/ops.hpp"
#include "hybridlens/core/parallel.hpp"

namespace hl::cpu {

void rotary(Tensor& x, int heads, int head_dim, int rot_dims, float theta, int64_t first_pos) {
  constexpr const char* op = "rotary";
  check_f32(op, "x", x, 2);
  HL_CHECK(heads > 0 && head_dim > 0, op, ": heads (", heads, ") and head_dim (", head_dim, ") must be positive");
  HL_CHECK(x.dim(1) == int64_t(heads) * head_dim, op, ": x ", x.describe(), " must be [T, ", heads, " * ",
           head_dim, "]");
  HL_CHECK(rot_dims >= 0 && rot_dims <= head_dim && rot_dims % 2 == 0, op, ": rot_dims ", rot_dims,
           " must be even and within [0, head_dim = ", head_dim, "]");
  HL_CHECK(theta > 0.0f && std::isfinite(theta), op, ": theta must be positive, got ", theta);
  HL_CHECK(first_pos >= 0, op, ": first_pos must be >= 0, got ", first_pos);
  const int64_t T = x.dim(0);
  if (T == 0 || rot_dims == 0) return;
  const int half = rot_dims / 2;

  std::vector<float> inv_freq(static_cast<size_t>(half));
  for (int i = 0; i < half; ++i) {
    const float exponent = float(2 * i) / float(rot_dims);
    inv_freq[size_t(i)] = 1.0f / std::pow(theta, exponent);
  }
  float* xs = x.data<float>();
  const int64_t row = int64_t(heads) * head_dim;
  parallel_for(T, std::max<int64_t>(1, 256 / std::max(1, heads)), [&](int64_t t0, int64_t t1) {
    std::vector<float> cs(static_cast<size_t>(half)), sn(static_cast<size_t>(half));
    for (int64_t t = t0; t < t1; ++t) {
      const float pos = float(first_pos + t);
      for (int i = 0; i < half; ++i) {
        const float angle = pos * inv_freq[size_t(i)];
        cs[size_t(i)] = float(std::cos(double(angle)));
        sn[size_t(i)] = float(std::sin(double(angle)));
      }
      for (int hd = 0; hd < heads; ++hd) {
        float* v = xs + t * row + int64_t(hd) * head_dim;
        for (int i = 0; i < half; ++i) {
          const float a = v[i], b = v[i + half];
          const float c = cs[size_t(i)], s = sn[size_t(i)];
          const float ac = a * c, bs = b * s, bc = b * c, as = a * s;
          v[i] = ac - bs;
          v[i + half] = bc + as;
        }
      }
    }
  });
}

}  // namespace hl::cpu
