#pragma once
// Argument validation of the operations that more than one backend implements: each function checks the
// arguments of one operation as both backends require them, with tensors on the device of `kind`, and throws
// hl::Error with the same message whichever backend calls it.
#include <cstdint>
#include <vector>

#include "hybridlens/core/tensor.hpp"

namespace hl::checks {

void check_linear_args(DeviceKind kind, const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias);

void check_block_diag_linear_args(DeviceKind kind, const Tensor& out, const Tensor& x, const Tensor& w,
                                  const Tensor& b);

// The CPU backend also requires out not to overlap bias (checked by the caller, after these).
void check_conv1d_causal_args(DeviceKind kind, const Tensor& out, const Tensor& x, const Tensor& w,
                              const Tensor& bias, const Tensor& state);

void check_rglru_scan_args(DeviceKind kind, const Tensor& out, const Tensor& x, const Tensor& gate_x_pre,
                           const Tensor& gate_a_pre, const Tensor& recurrent_param,
                           const std::vector<int64_t>& positions, const Tensor& h);

void check_selective_scan_args(DeviceKind kind, const Tensor& y, const Tensor& x, const Tensor& delta,
                               const Tensor& A_log, const Tensor& B, const Tensor& C, const Tensor& D,
                               const Tensor& state);

void check_gather_rows_args(DeviceKind kind, const Tensor& out, const Tensor& x, const std::vector<int32_t>& rows);

void check_scatter_add_rows_args(DeviceKind kind, const Tensor& y, const Tensor& src,
                                 const std::vector<int32_t>& rows, const std::vector<float>& weights);

}  // namespace hl::checks
