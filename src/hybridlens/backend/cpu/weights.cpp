#include "hybridlens/backend/cpu/weights.hpp"

#include "hybridlens/backend/cpu/isa.hpp"
#include "hybridlens/backend/cpu/simd_avx512.hpp"

namespace hl::cpu {
namespace {

template <class W>
HL_AVX512 void to_f32_avx512(float* dst, const typename W::elem* src, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, W::load(src + i));
  if (i < n) {
    const __mmask16 m = avx512::tail_mask(n - i);
    _mm512_mask_storeu_ps(dst + i, m, W::load(src + i, m));
  }
}

void to_f32_portable(float* dst, const void* data, DType dtype, int64_t begin, int64_t n) {
  if (dtype == DType::BF16) {
    const uint16_t* s = static_cast<const uint16_t*>(data) + begin;
    for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
  } else if (dtype == DType::F16) {
    const uint16_t* s = static_cast<const uint16_t*>(data) + begin;
    for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(s[i]);
  } else {
    const float* s = static_cast<const float*>(data) + begin;
    for (int64_t i = 0; i < n; ++i) dst[i] = s[i];
  }
}

}  // namespace

void weights_to_f32(float* dst, const void* data, DType dtype, int64_t begin, int64_t n) {
  if (n <= 0) return;
  if (active_isa() == Isa::Avx512) {
    switch (dtype) {
      case DType::BF16: return to_f32_avx512<avx512::WBF16>(dst, static_cast<const uint16_t*>(data) + begin, n);
      case DType::F16: return to_f32_avx512<avx512::WF16>(dst, static_cast<const uint16_t*>(data) + begin, n);
      default: return to_f32_avx512<avx512::WF32>(dst, static_cast<const float*>(data) + begin, n);
    }
  }
  to_f32_portable(dst, data, dtype, begin, n);
}

}  // namespace hl::cpu
