#pragma once
// Argument checks shared by the backends. Every failure throws hl::Error naming the operation and the
// tensors involved, e.g. "linear: x F32[3, 5] and w BF16[7, 4] disagree on K". The checks that look at
// where a tensor lives take the DeviceKind the backend requires.
#include <cstdint>
#include <string>

#include "hybridlens/core/error.hpp"
#include "hybridlens/core/tensor.hpp"

namespace hl::checks {

// "the CPU" or "a CUDA device", as the messages name the place a tensor must live.
inline const char* device_phrase(DeviceKind kind) { return kind == DeviceKind::CPU ? "the CPU" : "a CUDA device"; }

inline void check_defined(DeviceKind kind, const char* op, const char* name, const Tensor& t) {
  HL_CHECK(t.defined(), op, ": ", name, " is undefined");
  HL_CHECK(t.device().kind == kind, op, ": ", name, " ", t.describe(), " lives on ", t.device().str(), ", not on ",
           device_phrase(kind));
}

// An F32 tensor of exactly `ndim` dimensions.
inline void check_f32(DeviceKind kind, const char* op, const char* name, const Tensor& t, int ndim) {
  check_defined(kind, op, name, t);
  HL_CHECK(t.dtype() == DType::F32, op, ": ", name, " must be F32, got ", t.describe());
  HL_CHECK(t.ndim() == ndim, op, ": ", name, " must have ", ndim, " dimension", ndim == 1 ? "" : "s", ", got ",
           t.describe());
}

// A weight: F32, BF16 or F16 with `ndim` dimensions.
inline void check_weight(DeviceKind kind, const char* op, const char* name, const Tensor& t, int ndim) {
  check_defined(kind, op, name, t);
  HL_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::BF16 || t.dtype() == DType::F16, op, ": ", name,
           " must be F32, BF16 or F16, got ", t.describe());
  HL_CHECK(t.ndim() == ndim, op, ": ", name, " must have ", ndim, " dimension", ndim == 1 ? "" : "s", ", got ",
           t.describe());
}

inline void check_same_shape(const char* op, const char* a_name, const Tensor& a, const char* b_name,
                             const Tensor& b) {
  HL_CHECK(a.shape() == b.shape(), op, ": ", a_name, " ", a.describe(), " and ", b_name, " ", b.describe(),
           " must have the same shape");
}

// True when the byte ranges of the two tensors overlap.
inline bool overlaps(const Tensor& a, const Tensor& b) {
  const auto* pa = static_cast<const char*>(a.raw());
  const auto* pb = static_cast<const char*>(b.raw());
  if (a.nbytes() == 0 || b.nbytes() == 0) return false;
  return pa < pb + b.nbytes() && pb < pa + a.nbytes();
}

inline void check_no_alias(const char* op, const char* out_name, const Tensor& out, const char* in_name,
                           const Tensor& in) {
  HL_CHECK(!overlaps(out, in), op, ": ", out_name, " ", out.describe(), " must not overlap ", in_name, " ",
           in.describe());
}

// In-place use is allowed only as exact aliasing (same memory, same shape), never partial overlap.
inline void check_alias_exact_or_none(const char* op, const char* out_name, const Tensor& out,
                                      const char* in_name, const Tensor& in) {
  HL_CHECK(!overlaps(out, in) || (out.raw() == in.raw() && out.nbytes() == in.nbytes()), op, ": ", out_name,
           " ", out.describe(), " partially overlaps ", in_name, " ", in.describe());
}

}  // namespace hl::checks
