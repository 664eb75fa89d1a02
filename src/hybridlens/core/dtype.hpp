#pragma once
// Element types of tensors and the scalar conversions between the 16-bit floats and fp32.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace hl {

enum class DType : uint8_t { F32, BF16, F16, I32, U8 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "F32", "BF16", ... as in safetensors headers

inline float bf16_to_f32(uint16_t v) {
  uint32_t bits = uint32_t(v) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Round to nearest even, as torch does; NaN stays NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return uint16_t((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return uint16_t(bits >> 16);
}

inline float round_to_bf16(float f) { return bf16_to_f32(f32_to_bf16(f)); }

float f16_to_f32(uint16_t v);
uint16_t f32_to_f16(float f);

}  // namespace hl
