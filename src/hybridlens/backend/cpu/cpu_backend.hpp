#pragma once
// The CPU backend: each operation checks its arguments and runs the kernels in this folder (ops.hpp);
// attention, selective_scan and the row gather/scatter live in attention.hpp, ssm_ops.hpp, row_ops.hpp.
#include "hybridlens/backend/backend.hpp"

namespace hl::cpu {

class CpuBackend final : public Backend {
 public:
  Device device() const override { return cpu_device(); }
  const char* name() const override { return "cpu"; }

  Tensor zeros(DType dtype, Shape shape) override;
  Tensor upload(const Tensor& host) override;
  void to_host(const Tensor& src, float* dst) override;
  void copy(Tensor& dst, const Tensor& src) override;
  void fill_uniform(Tensor& t, float lo, float hi, uint64_t stream) override;

  void embed(Tensor& out, const Tensor& table, const std::vector<int32_t>& ids, float scale) override;
  void rms_norm(Tensor& out, const Tensor& x, const Tensor& w, float eps, bool one_plus_weight) override;
  void linear(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias) override;
  void block_diag_linear(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& b) override;
  void add_inplace(Tensor& x, const Tensor& y) override;
  void activation(Tensor& out, const Tensor& x, Activation act) override;
  void activation_mul(Tensor& out, const Tensor& a, const Tensor& b, Activation act) override;
  void soft_cap(Tensor& x, float cap) override;

  void conv1d_causal(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& state) override;
  void rglru_scan(Tensor& out, const Tensor& x, const Tensor& gate_x_pre, const Tensor& gate_a_pre,
                  const Tensor& recurrent_param, const std::vector<int64_t>& positions, Tensor& h) override;
  void rotary(Tensor& x, int heads, int head_dim, int rot_dims, float theta, int64_t first_pos) override;

  void selective_scan(Tensor& y, const Tensor& x, const Tensor& delta, const Tensor& A_log, const Tensor& B,
                      const Tensor& C, const Tensor& D, Tensor& state) override;
  void gather_rows(Tensor& out, const Tensor& x, const std::vector<int32_t>& rows) override;
  void scatter_add_rows(Tensor& y, const Tensor& src, const std::vector<int32_t>& rows,
                        const std::vector<float>& weights) override;

  void attention(Tensor& out, const Tensor& q, const Tensor& k_new, const Tensor& v_new, KVCache& cache,
                 const AttentionSpec& spec, int64_t first_pos, const AttentionLens* lens) override;
};

}  // namespace hl::cpu
