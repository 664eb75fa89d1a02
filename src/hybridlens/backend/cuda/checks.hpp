#pragma once
// Argument checks of the CUDA operations: the shared checks of backend/tensor_checks.hpp, requiring
// tensors that live on a CUDA device.
#include "hybridlens/backend/tensor_checks.hpp"

namespace hl::cuda {

using checks::check_alias_exact_or_none;
using checks::check_no_alias;
using checks::check_same_shape;
using checks::overlaps;

inline void check_defined(const char* op, const char* name, const Tensor& t) {
  checks::check_defined(DeviceKind::CUDA, op, name, t);
}
inline void check_f32(const char* op, const char* name, const Tensor& t, int ndim) {
  checks::check_f32(DeviceKind::CUDA, op, name, t, ndim);
}
inline void check_weight(const char* op, const char* name, const Tensor& t, int ndim) {
  checks::check_weight(DeviceKind::CUDA, op, name, t, ndim);
}

}  // namespace hl::cuda
