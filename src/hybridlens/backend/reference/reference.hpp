#pragma once
// Plain, obviously-correct reference versions of the backend operations (backend.hpp), for tests to compare
// the optimized kernels with. Single-threaded loops that follow the documented formulas literally, in double
// where that is cheap, then rounded to fp32. Only what the formula needs is checked here (via hl::Error);
// the full argument checks are the optimized backend's job.
//
// Where the reference implementation (transformers) fixes an fp32 rounding as part of the definition, the
// reference keeps it: the rotary angle is float(position) * inv_freq rounded to fp32 with inv_freq computed
// in fp32, and the RMSNorm scale (1 + w) is formed in fp32.
#include <cstdint>
#include <vector>

#include "hybridlens/backend/backend.hpp"

namespace hl::ref {

// Element i of a weight (F32, BF16, F16) as double.
double weight_value(const Tensor& w, int64_t i);

void embed(Tensor& out, const Tensor& table, const std::vector<int32_t>& ids, float scale);
void rms_norm(Tensor& out, const Tensor& x, const Tensor& w, float eps, bool one_plus_weight);
void linear(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias);
void block_diag_linear(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& b);
void add_inplace(Tensor& x, const Tensor& y);
void activation(Tensor& out, const Tensor& x, Activation act);
void activation_mul(Tensor& out, const Tensor& a, const Tensor& b, Activation act);
void soft_cap(Tensor& x, float cap);
void conv1d_causal(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& state);
void rglru_scan(Tensor& out, const Tensor& x, const Tensor& gate_x_pre, const Tensor& gate_a_pre,
                const Tensor& recurrent_param, const std::vector<int64_t>& positions, Tensor& h);
void rotary(Tensor& x, int heads, int head_dim, int rot_dims, float theta, int64_t first_pos);

// Scalar activations in double, as the formulas read.
double gelu_tanh(double x);
double silu(double x);
double sigmoid(double x);
double softplus(double x);  // x > 20 gives x
double activate(double x, Activation act);

}  // namespace hl::ref
