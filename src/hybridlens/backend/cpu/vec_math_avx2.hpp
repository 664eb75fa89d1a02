#pragma once
// 8-wide fp32 exp / expm1 / sigmoid for the AVX2 paths: the operations and constants of vec_math_avx512.hpp
// in the same order (see there for the accuracy). AVX2 has no scalef: 2^n is applied as two exact powers
// of two, and the second multiplication rounds once, into a denormal or zero where the result is that
// small. Include only from files whose callers check active_isa().
#include <immintrin.h>

#include <cstdint>

#define HL_AVX2 __attribute__((target("avx2,fma")))
#define HL_AVX2_INLINE HL_AVX2 inline __attribute__((always_inline))

namespace hl::cpu::avx2 {

// 2^n for integer n in [-126, 127].
HL_AVX2_INLINE __m256 pow2i(__m256i n) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23));
}

// Lanes [0, n) set, for masked loads and stores of a tail of n < 8 values.
HL_AVX2_INLINE __m256i tail_mask(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n < 8 ? n : 8)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// e^x. Inputs are clamped to [-150, 150] first, so overflow gives +inf and underflow 0.
HL_AVX2_INLINE __m256 exp_ps(__m256 x) {
  x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(150.0f)), _mm256_set1_ps(-150.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  // n in [-217, 217]: h = floor(n / 2) and n - h both lie in [-109, 109], and p * 2^h is exact.
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i h = _mm256_srai_epi32(ni, 1);
  return _mm256_mul_ps(_mm256_mul_ps(p, pow2i(h)), pow2i(_mm256_sub_epi32(ni, h)));
}

// e^x - 1 without cancellation near 0: a Taylor polynomial on |x| < ln2/2, exp(x) - 1 elsewhere.
HL_AVX2_INLINE __m256 expm1_ps(__m256 x) {
  __m256 p = _mm256_set1_ps(1.0f / 362880.0f);
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.0f / 40320.0f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.0f / 5040.0f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(0.5f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, x), x, x);  // x + x^2 (1/2 + x/6 + ...)
  const __m256 large = _mm256_sub_ps(exp_ps(x), _mm256_set1_ps(1.0f));
  const __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
  const __m256 is_small = _mm256_cmp_ps(ax, _mm256_set1_ps(0.3465735902799727f), _CMP_LT_OQ);
  return _mm256_blendv_ps(large, small, is_small);
}

// 1 / (1 + e^-x)
HL_AVX2_INLINE __m256 sigmoid_ps(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

}  // namespace hl::cpu::avx2
