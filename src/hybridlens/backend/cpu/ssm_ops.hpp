#pragma once
// CPU selective scan (Mamba-1), parallel over blocks of channels; see Backend::selective_scan.
#include "hybridlens/core/tensor.hpp"

namespace hl::cpu {

// x, delta, y: F32 [T, Din]; A_log: [Din, N] and D: [Din] as stored (F32, BF16, F16); B, C: F32 [T, N];
// state: F32 [Din, N], read and updated. y must not overlap any input.
void selective_scan(Tensor& y, const Tensor& x, const Tensor& delta, const Tensor& A_log, const Tensor& B,
                    const Tensor& C, const Tensor& D, Tensor& state);

}  // namespace hl::cpu
