#pragma once
// Vectorized fp32 exp / expm1 and the activations built on them, for the AVX-512 paths of the elementwise
// and recurrence kernels. Accuracy: exp and expm1 within ~2 ulp over the whole range (Cody-Waite range
// reduction, degree-7/8 Taylor polynomials whose truncation error is below 0.1 ulp on |r| <= ln2/2), so
// the activations below stay within a few ulp of the correctly rounded result, like PyTorch's own
// vectorized (Sleef, 1 ulp) kernels. Include only from files whose callers check active_isa().
#include "hybridlens/backend/cpu/simd_avx512.hpp"

namespace hl::cpu::avx512 {

// e^x. Inputs are clamped to [-150, 150] first, so overflow gives +inf and underflow 0 (via scalef).
HL_AVX512_INLINE __m512 exp_ps(__m512 x) {
  x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(150.0f)), _mm512_set1_ps(-150.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);  // ln2 split: hi has few bits, so n*hi is exact
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// e^x - 1 without cancellation near 0: a Taylor polynomial on |x| < ln2/2, exp(x) - 1 elsewhere.
HL_AVX512_INLINE __m512 expm1_ps(__m512 x) {
  __m512 p = _mm512_set1_ps(1.0f / 362880.0f);
  p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(1.0f / 40320.0f));
  p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(1.0f / 5040.0f));
  p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(0.5f));
  const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, x), x, x);  // x + x^2 (1/2 + x/6 + ...)
  const __m512 large = _mm512_sub_ps(exp_ps(x), _mm512_set1_ps(1.0f));
  const __mmask16 is_small = _mm512_cmp_ps_mask(_mm512_abs_ps(x), _mm512_set1_ps(0.3465735902799727f), _CMP_LT_OQ);
  return _mm512_mask_blend_ps(is_small, large, small);
}

// tanh(x) = sign(x) * -expm1(-2|x|) / (2 + expm1(-2|x|)): relative accuracy at every magnitude.
HL_AVX512_INLINE __m512 tanh_ps(__m512 x) {
  const __m512 ax = _mm512_abs_ps(x);
  const __m512 e = expm1_ps(_mm512_mul_ps(_mm512_set1_ps(-2.0f), ax));  // in (-1, 0]
  const __m512 t = _mm512_div_ps(_mm512_sub_ps(_mm512_setzero_ps(), e), _mm512_add_ps(_mm512_set1_ps(2.0f), e));
  // copy the sign of x (tanh is odd; keeps -0 as -0)
  const __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(int(0x80000000u)));
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(t), sign));
}

// 1 / (1 + e^-x)
HL_AVX512_INLINE __m512 sigmoid_ps(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  return _mm512_div_ps(one, _mm512_add_ps(one, exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

// x / (1 + e^-x)
HL_AVX512_INLINE __m512 silu_ps(__m512 x) {
  return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

// gelu with the tanh approximation, 0.5 x (1 + tanh(z)), z = sqrt(2/pi) (x + 0.044715 x^3), evaluated as the
// identical x / (1 + e^(-2z)): no cancellation in 1 + tanh(z) for negative z.
HL_AVX512_INLINE __m512 gelu_tanh_ps(__m512 x) {
  const __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
  const __m512 inner = _mm512_mul_ps(_mm512_set1_ps(0.7978845608028654f),
                                     _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), x3, x));
  const __m512 e = exp_ps(_mm512_mul_ps(_mm512_set1_ps(-2.0f), inner));
  return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

}  // namespace hl::cpu::avx512
