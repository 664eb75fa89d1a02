#pragma once
// The CPU operations as free functions (CpuBackend forwards to them). Semantics, shapes and error
// behaviour are those documented in backend/backend.hpp.
#include <cstdint>
#include <vector>

#include "hybridlens/backend/backend.hpp"

namespace hl::cpu {

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

}  // namespace hl::cpu
