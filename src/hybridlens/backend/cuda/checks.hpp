#pragma once
// Argument checks of the CUDA operations: the same rules and messages as the CPU backend's
// (backend/cpu/checks.hpp), except that tensors must live on a CUDA device.
#include <cstdint>

#include "hybridlens/core/error.hpp"
#include "hybridlens/core/tensor.hpp"

namespace hl::cuda {

inline void check_defined(const char* op, const char* name, const Tensor& t) {
  HL_CHECK(t.defined(), op, ": ", name, " is undefined");
  HL_CHECK(t.device().kind == DeviceKind::CUDA, op, ": ", name, " ", t.describe(), " lives on ", t.device().str(),
           ", not on a CUDA device");
}

inline void check_f32(const char* op, const char* name, const Tensor& t, int ndim) {
  check_defined(op, name, t);
  HL_CHECK(t.dtype() == DType::F32, op, ": ", name, " must be F32, got ", t.describe());
  HL_CHECK(t.ndim() == ndim, op, ": ", name, " must have ", ndim, " dimension", ndim == 1 ? "" : "s", ", got ",
           t.describe());
}

inline void check_weight(const char* op, const char* name, const Tensor& t, int ndim) {
  check_defined(op, name, t);
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

inline void check_alias_exact_or_none(const char* op, const char* out_name, const Tensor& out, const char* in_name,
                                      const Tensor& in) {
  HL_CHECK(!overlaps(out, in) || (out.raw() == in.raw() && out.nbytes() == in.nbytes()), op, ": ", out_name, " ",
           out.describe(), " partially overlaps ", in_name, " ", in.describe());
}

}  // namespace hl::cuda
