#include "hybridlens/backend/cpu/vector_ops.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace hl::cpu {
namespace {

// expf for x <= 0: Cody-Waite reduction by ln 2 and the Cephes polynomial (about 1 ulp). Written as
// plain arithmetic so the compiler vectorizes the loops that call it; inputs below -87 are clamped
// (their exp, < 2e-38, is negligible next to the row's maximum term, which is 1).
inline float exp_nonpositive(float x) {
  x = std::max(x, -87.0f);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  return y * std::bit_cast<float>((int32_t(n) + 127) << 23);
}

}  // namespace

__attribute__((target_clones("avx512f", "avx2,fma", "default")))
float dot(const float* a, const float* b, int64_t n) {
  float acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

__attribute__((target_clones("avx512f", "avx2,fma", "default")))
void axpy(float alpha, const float* x, float* y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

__attribute__((target_clones("avx512f", "avx2,fma", "default")))
float scaled_dots(const float* q, const float* rows, int64_t stride, int64_t n, int64_t D, float scale, float* s,
                  float running_max) {
  for (int64_t j = 0; j < n; ++j) {
    const float* k = rows + j * stride;
    float acc = 0;
#pragma omp simd reduction(+ : acc)
    for (int64_t d = 0; d < D; ++d) acc += q[d] * k[d];
    s[j] = acc * scale;
    running_max = std::max(running_max, s[j]);
  }
  return running_max;
}

__attribute__((target_clones("avx512f", "avx2,fma", "default")))
void exp_shifted(float* s, int64_t n, float m, double* z, double* es) {
  float zs = 0, ess = 0;
#pragma omp simd reduction(+ : zs, ess)
  for (int64_t j = 0; j < n; ++j) {
    const float shifted = s[j] - m;
    const float e = exp_nonpositive(shifted);
    s[j] = e;
    zs += e;
    ess += e * shifted;
  }
  *z += zs;
  *es += ess;
}

__attribute__((target_clones("avx512f", "avx2,fma", "default")))
void weighted_rows(const float* p, const float* rows, int64_t stride, int64_t n, int64_t D, float* acc) {
  for (int64_t j = 0; j < n; ++j) {
    const float w = p[j];
    const float* v = rows + j * stride;
#pragma omp simd
    for (int64_t d = 0; d < D; ++d) acc[d] += w * v[d];
  }
}

}  // namespace hl::cpu
