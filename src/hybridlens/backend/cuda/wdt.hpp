#pragma once
// From the project's enums to the kernels' plain ones.
#include "hybridlens/backend/backend.hpp"
#include "hybridlens/backend/cuda/kernels.hpp"

namespace hl::cuda {

inline WDt wdt(const Tensor& t) {
  switch (t.dtype()) {
    case DType::BF16: return WDt::BF16;
    case DType::F16: return WDt::F16;
    default: return WDt::F32;
  }
}

inline Act act_of(Activation a) {
  switch (a) {
    case Activation::GeluTanh: return Act::GeluTanh;
    case Activation::Silu: return Act::Silu;
    default: return Act::Softplus;
  }
}

}  // namespace hl::cuda
