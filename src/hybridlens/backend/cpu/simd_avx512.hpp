#pragma once
// AVX-512 building blocks for the CPU kernels. Include only from .cpp files whose AVX-512 functions carry
// HL_AVX512 (GCC's target attribute) and are called only when active_isa() == Isa::Avx512: the library
// is built for baseline x86-64, so nothing here may run on a CPU without AVX-512.
// GCC 12 warns "__Y may be used uninitialized" inside its own AVX-512 headers (_mm512_undefined_*) when
// these intrinsics are inlined into target("avx512f") functions; the warning is spurious.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cstdint>

#include "hybridlens/core/dtype.hpp"

#define HL_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))
#define HL_AVX512_INLINE HL_AVX512 inline __attribute__((always_inline))

namespace hl::cpu::avx512 {

// Weight element types: load 16 consecutive elements (or the first `mask` lanes) as 16 fp32 values.
// bf16 -> f32 is exact (zero-extend to 32 bits, shift left 16); f16 -> f32 is exact (vcvtph2ps).
struct WF32 {
  using elem = float;
  static HL_AVX512_INLINE __m512 load(const elem* p) { return _mm512_loadu_ps(p); }
  static HL_AVX512_INLINE __m512 load(const elem* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
};

struct WBF16 {
  using elem = uint16_t;
  static HL_AVX512_INLINE __m512 widen(__m256i v) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16));
  }
  static HL_AVX512_INLINE __m512 load(const elem* p) {
    return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static HL_AVX512_INLINE __m512 load(const elem* p, __mmask16 m) { return widen(_mm256_maskz_loadu_epi16(m, p)); }
};

struct WF16 {
  using elem = uint16_t;
  static HL_AVX512_INLINE __m512 load(const elem* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static HL_AVX512_INLINE __m512 load(const elem* p, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
  }
};

// Calls f.template operator()<W>() with the element type matching `dtype` (F32, BF16 or F16). Plain code
// (no target attribute): it only picks the instantiation; the kernels it calls carry HL_AVX512.
template <class F>
inline void with_weight_type(DType dtype, F&& f) {
  switch (dtype) {
    case DType::BF16: f.template operator()<WBF16>(); break;
    case DType::F16: f.template operator()<WF16>(); break;
    default: f.template operator()<WF32>(); break;
  }
}

// Mask of the first min(n, 16) lanes (n >= 0). Plain code: a mask is just an integer.
inline __mmask16 tail_mask(int64_t n) { return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1u); }

}  // namespace hl::cpu::avx512
