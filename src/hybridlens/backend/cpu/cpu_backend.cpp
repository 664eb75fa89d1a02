#include "hybridlens/backend/cpu/cpu_backend.hpp"

#include <cstring>

#include "hybridlens/core/uniform_fill.hpp"

#include "hybridlens/backend/cpu/attention.hpp"
#include "hybridlens/backend/cpu/checks.hpp"
#include "hybridlens/backend/cpu/ops.hpp"
#include "hybridlens/backend/cpu/row_ops.hpp"
#include "hybridlens/backend/cpu/ssm_ops.hpp"

namespace hl {
namespace cpu {

Tensor CpuBackend::zeros(DType dtype, Shape shape) { return Tensor::zeros(dtype, std::move(shape)); }

Tensor CpuBackend::upload(const Tensor& host) {
  check_defined("upload", "host", host);
  return host;  // weights are used in place (a mapped checkpoint stays mapped)
}

void CpuBackend::to_host(const Tensor& src, float* dst) {
  check_defined("to_host", "src", src);
  HL_CHECK(src.dtype() == DType::F32, "to_host: src must be F32, got ", src.describe());
  HL_CHECK(dst != nullptr || src.numel() == 0, "to_host: null destination for ", src.describe());
  if (src.numel() > 0) std::memmove(dst, src.raw(), src.nbytes());
}

void CpuBackend::copy(Tensor& dst, const Tensor& src) {
  check_defined("copy", "src", src);
  check_defined("copy", "dst", dst);
  HL_CHECK(dst.dtype() == src.dtype() && dst.numel() == src.numel(), "copy: dst ", dst.describe(), " and src ",
           src.describe(), " must have the same dtype and element count");
  if (src.nbytes() > 0 && dst.raw() != src.raw()) std::memmove(dst.raw(), src.raw(), src.nbytes());
}

void CpuBackend::fill_uniform(Tensor& t, float lo, float hi, uint64_t stream) {
  check_defined("fill_uniform", "t", t);
  fill_uniform_host(t.raw(), t.dtype(), t.numel(), lo, hi, stream);
}

void CpuBackend::embed(Tensor& out, const Tensor& table, const std::vector<int32_t>& ids, float scale) {
  cpu::embed(out, table, ids, scale);
}
void CpuBackend::rms_norm(Tensor& out, const Tensor& x, const Tensor& w, float eps, bool one_plus_weight) {
  cpu::rms_norm(out, x, w, eps, one_plus_weight);
}
void CpuBackend::linear(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias) {
  cpu::linear(out, x, w, bias);
}
void CpuBackend::block_diag_linear(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& b) {
  cpu::block_diag_linear(out, x, w, b);
}
void CpuBackend::add_inplace(Tensor& x, const Tensor& y) { cpu::add_inplace(x, y); }
void CpuBackend::activation(Tensor& out, const Tensor& x, Activation act) { cpu::activation(out, x, act); }
void CpuBackend::activation_mul(Tensor& out, const Tensor& a, const Tensor& b, Activation act) {
  cpu::activation_mul(out, a, b, act);
}
void CpuBackend::soft_cap(Tensor& x, float cap) { cpu::soft_cap(x, cap); }
void CpuBackend::conv1d_causal(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& state) {
  cpu::conv1d_causal(out, x, w, bias, state);
}
void CpuBackend::rglru_scan(Tensor& out, const Tensor& x, const Tensor& gate_x_pre, const Tensor& gate_a_pre,
                            const Tensor& recurrent_param, const std::vector<int64_t>& positions, Tensor& h) {
  cpu::rglru_scan(out, x, gate_x_pre, gate_a_pre, recurrent_param, positions, h);
}
void CpuBackend::rotary(Tensor& x, int heads, int head_dim, int rot_dims, float theta, int64_t first_pos) {
  cpu::rotary(x, heads, head_dim, rot_dims, theta, first_pos);
}
void CpuBackend::selective_scan(Tensor& y, const Tensor& x, const Tensor& delta, const Tensor& A_log,
                                const Tensor& B, const Tensor& C, const Tensor& D, Tensor& state) {
  cpu::selective_scan(y, x, delta, A_log, B, C, D, state);
}
void CpuBackend::gather_rows(Tensor& out, const Tensor& x, const std::vector<int32_t>& rows) {
  cpu::gather_rows(out, x, rows);
}
void CpuBackend::scatter_add_rows(Tensor& y, const Tensor& src, const std::vector<int32_t>& rows,
                                  const std::vector<float>& weights) {
  cpu::scatter_add_rows(y, src, rows, weights);
}
void CpuBackend::attention(Tensor& out, const Tensor& q, const Tensor& k_new, const Tensor& v_new, KVCache& cache,
                           const AttentionSpec& spec, int64_t first_pos, const AttentionLens* lens) {
  cpu::attention(out, q, k_new, v_new, cache, spec, first_pos, lens);
}

}  // namespace cpu

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<cpu::CpuBackend>(); }

}  // namespace hl
