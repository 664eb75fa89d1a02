#pragma once
// Helpers for the backend tests: seeded random tensors of every weight dtype, and an element-by-element
// comparison against the reference with a per-element error bound.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "hybridlens/core/dtype.hpp"
#include "hybridlens/core/tensor.hpp"

namespace hl::test {

inline constexpr double kU = 1.0 / 16777216.0;  // 2^-24, the unit roundoff of fp32

inline const std::vector<DType>& weight_dtypes() {
  static const std::vector<DType> d = {DType::F32, DType::BF16, DType::F16};
  return d;
}

// F32 tensor with values uniform in [lo, hi).
inline Tensor random_f32(Shape shape, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
  Tensor t = Tensor::zeros(DType::F32, std::move(shape));
  std::uniform_real_distribution<float> u(lo, hi);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = u(rng);
  return t;
}

// A weight of the given dtype with values uniform in [lo, hi), rounded to the dtype.
inline Tensor random_weight(DType dtype, Shape shape, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
  Tensor t = Tensor::zeros(dtype, std::move(shape));
  std::uniform_real_distribution<float> u(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) {
    const float v = u(rng);
    if (dtype == DType::F32) t.data<float>()[i] = v;
    else if (dtype == DType::BF16) t.data<uint16_t>()[i] = f32_to_bf16(v);
    else t.data<uint16_t>()[i] = f32_to_f16(v);
  }
  return t;
}

inline Tensor clone(const Tensor& t) {
  Tensor c = Tensor::zeros(t.dtype(), t.shape());
  if (t.nbytes()) std::memcpy(c.raw(), t.raw(), t.nbytes());
  return c;
}

// Checks |got[i] - want[i]| <= bound(i) for every element; reports the worst few failures with context.
inline ::testing::AssertionResult close_within(const Tensor& got, const Tensor& want,
                                               const std::function<double(int64_t)>& bound,
                                               const std::string& what) {
  if (got.shape() != want.shape())
    return ::testing::AssertionFailure() << what << ": shape " << got.describe() << " vs " << want.describe();
  const float* g = got.data<float>();
  const float* w = want.data<float>();
  int64_t bad = 0;
  std::ostringstream msg;
  double worst_ratio = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double err = std::fabs(double(g[i]) - double(w[i]));
    const double b = bound(i);
    const bool ok = (err <= b) || (std::isnan(g[i]) && std::isnan(w[i])) || (g[i] == w[i]);
    if (b > 0) worst_ratio = std::max(worst_ratio, err / b);
    if (!ok) {
      if (bad < 5) msg << "\n  [" << i << "] got " << g[i] << " want " << w[i] << " err " << err << " bound " << b;
      ++bad;
    }
  }
  if (bad) return ::testing::AssertionFailure() << what << ": " << bad << " of " << got.numel()
                                                << " elements outside the bound" << msg.str();
  if (std::getenv("HL_TEST_VERBOSE")) std::printf("  %s: worst error / bound = %.3g\n", what.c_str(), worst_ratio);
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult bitwise_equal(const Tensor& a, const Tensor& b, const std::string& what) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype())
    return ::testing::AssertionFailure() << what << ": " << a.describe() << " vs " << b.describe();
  if (std::memcmp(a.raw(), b.raw(), a.nbytes()) != 0) {
    for (int64_t i = 0; i < a.numel(); ++i)
      if (a.data<float>()[i] != b.data<float>()[i])
        return ::testing::AssertionFailure() << what << ": first difference at " << i << ": " << a.data<float>()[i]
                                             << " vs " << b.data<float>()[i];
    return ::testing::AssertionFailure() << what << ": bytes differ";
  }
  return ::testing::AssertionSuccess();
}

inline std::string case_name(const std::string& op, DType dt, std::initializer_list<int64_t> dims) {
  std::ostringstream s;
  s << op << " " << dtype_name(dt);
  for (int64_t d : dims) s << " " << d;
  return s.str();
}

}  // namespace hl::test
