#include "hybridlens/core/argmax.hpp"

#include <algorithm>
#include <cmath>

namespace hl {

// Two passes that vectorise: the largest value (a max reduction), then the first block of 64 holding it. A
// one-pass scan that reloads v[best] every step took 170-270 us over a 256,000-token vocabulary, once per
// generated token, while the GPU waited.
int32_t argmax(const float* v, int64_t n) {
  if (n <= 1 || std::isnan(v[0])) return 0;
  float m = v[0];
#pragma omp simd reduction(max : m)
  for (int64_t i = 1; i < n; ++i) m = v[i] > m ? v[i] : m;
  constexpr int64_t kBlock = 64;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = std::min(n, b + kBlock);
    int hit = 0;
#pragma omp simd reduction(| : hit)
    for (int64_t i = b; i < e; ++i) hit |= v[i] == m;
    if (hit)
      for (int64_t i = b; i < e; ++i)
        if (v[i] == m) return int32_t(i);
  }
  return 0;
}

}  // namespace hl
