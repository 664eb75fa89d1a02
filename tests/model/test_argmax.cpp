// argmax (core/argmax.cpp) against the plain scan it replaced: the first index of the largest value, NaNs
// never chosen, on vectors full of ties, signed zeros, infinities and NaNs, at lengths around its 64-value
// blocks and at a real vocabulary size; Backend::argmax_rows applies it to each row.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "hybridlens/backend/make_backend.hpp"
#include "hybridlens/core/argmax.hpp"

namespace hl {
namespace {

int32_t plain_argmax(const std::vector<float>& v) {
  size_t best = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[best]) best = i;
  return int32_t(best);
}

TEST(Argmax, EqualsThePlainScan) {
  std::mt19937 rng(5);
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), 0.0f, -0.0f,
                            -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity(), 1.0f};
  std::uniform_int_distribution<int> pick(0, 8);
  std::normal_distribution<float> normal;
  int cases = 0;
  for (size_t n : {size_t(1), size_t(2), size_t(63), size_t(64), size_t(65), size_t(129), size_t(300), size_t(256000)})
    for (int rep = 0; rep < (n > 1000 ? 20 : 400); ++rep) {
      std::vector<float> v(n);
      for (float& x : v) {
        const int c = pick(rng);
        x = c < 6 ? specials[c] : float(int(normal(rng) * 3));  // small integers: many ties
      }
      if (rep % 4 == 0)
        for (float& x : v) x = normal(rng);  // continuous values: a unique maximum
      ASSERT_EQ(argmax(v.data(), int64_t(n)), plain_argmax(v)) << "n = " << n << ", case " << rep;
      ++cases;
    }
  EXPECT_GT(cases, 0);
  const std::vector<float> ties{2.0f, 3.0f, 1.0f, 3.0f};
  EXPECT_EQ(argmax(ties.data(), 4), 1);
  const std::vector<float> nan_first{std::numeric_limits<float>::quiet_NaN(), 5.0f};
  EXPECT_EQ(argmax(nan_first.data(), 2), 0);
}

TEST(Argmax, BackendRowsTakeEachRowsArgmax) {
  std::unique_ptr<Backend> be = make_cpu_backend();
  const int64_t R = 5, N = 300;
  Tensor x = be->zeros(DType::F32, {R, N});
  std::mt19937 rng(6);
  std::uniform_int_distribution<int> small(-3, 3);
  for (int64_t i = 0; i < R * N; ++i) x.data<float>()[i] = float(small(rng));  // ties in every row
  x.data<float>()[2 * N] = std::numeric_limits<float>::quiet_NaN();            // row 2 starts with NaN: 0
  int32_t got[R];
  be->argmax_rows(x, got);
  for (int64_t r = 0; r < R; ++r) EXPECT_EQ(got[r], argmax(x.data<float>() + r * N, N)) << "row " << r;
  EXPECT_EQ(got[2], 0);
}

}  // namespace
}  // namespace hl
