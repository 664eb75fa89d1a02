#pragma once
// Reading weights as stored (F32, BF16 or F16) into fp32, element by element or a run at a time. The
// conversions are exact: bf16 -> f32 is a 16-bit shift, f16 -> f32 widens every value (subnormals too).
#include <cstdint>
#include <vector>

#include "hybridlens/core/dtype.hpp"
#include "hybridlens/core/tensor.hpp"

namespace hl::cpu {

// Element i of a weight of any supported dtype, as fp32.
inline float weight_at(const void* data, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(data)[i]);
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(data)[i]);
    default: return static_cast<const float*>(data)[i];
  }
}

// dst[0..n) = weight elements [begin, begin + n) as fp32 (vectorized where the CPU allows).
void weights_to_f32(float* dst, const void* data, DType dtype, int64_t begin, int64_t n);

// A small weight (a bias) as fp32: its own data when it is F32, else widened into `storage`.
inline const float* weights_as_f32(const Tensor& w, std::vector<float>& storage) {
  if (w.dtype() == DType::F32) return w.data<float>();
  storage.resize(size_t(w.numel()));
  weights_to_f32(storage.data(), w.raw(), w.dtype(), 0, w.numel());
  return storage.data();
}

// A whole weight tensor as fp32 values in `dst` (numel floats).
inline void weights_to_f32(float* dst, const Tensor& w) { weights_to_f32(dst, w.raw(), w.dtype(), 0, w.numel()); }

}  // namespace hl::cpu
