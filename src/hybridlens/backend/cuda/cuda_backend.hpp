#pragma once
// The CUDA backend: weights resident on one GPU as stored (F32, BF16, F16), fp32 activations, decode
// states and KV caches on the device. Everything runs on the legacy default stream of the device, in call
// order; to_host synchronises. Memory comes from the device's stream-ordered pool, so the many small
// tensors a forward pass allocates cost no cudaMalloc each.
//
// Matrix products: up to kGemvMaxRows rows (decode) a custom kernel reads the weights as stored with fp32
// activations and accumulation (as exact as the CPU). More rows (prefill): cuBLAS; with BF16 weights the
// activations are rounded to bf16 and multiplied on the tensor cores with fp32 accumulation (relative error
// about 2^-9 per product), unless `precise` is set (HL_CUDA_PRECISE=1), which widens the weights to fp32
// in chunks and uses fp32 SGEMM. F32 weights always use fp32 SGEMM; F16 weights are widened in chunks.
#include <cublas_v2.h>
#include <map>
#include <memory>
#include <utility>
#include <cuda_runtime.h>

#include "hybridlens/backend/backend.hpp"
#include "hybridlens/backend/cuda/kernels.hpp"
#include "hybridlens/backend/cuda/lt_gemm.hpp"
#include "hybridlens/backend/cuda/op_profile.hpp"
#include "hybridlens/backend/cuda/record_staging.hpp"

namespace hl::cuda {

class CudaBackend final : public Backend {
 public:
  CudaBackend(int index, bool precise);
  ~CudaBackend() override;

  Device device() const override { return Device{DeviceKind::CUDA, index_}; }
  const char* name() const override { return "cuda"; }
  int64_t prefill_chunk_tokens() const override { return 2048; }
  void finish() override { records_.flush(); }

  Tensor zeros(DType dtype, Shape shape) override;
  Tensor empty(DType dtype, Shape shape) override { return scratch(dtype, std::move(shape)); }
  Tensor upload(const Tensor& host) override;
  void to_host(const Tensor& src, float* dst) override;
  void argmax_rows(const Tensor& x, int32_t* out) override;
  void copy(Tensor& dst, const Tensor& src) override;
  void fill_uniform(Tensor& t, float lo, float hi, uint64_t stream) override;

  void embed(Tensor& out, const Tensor& table, const std::vector<int32_t>& ids, float scale) override;
  void rms_norm(Tensor& out, const Tensor& x, const Tensor& w, float eps, bool one_plus_weight) override;
  void linear(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias) override;
  void block_diag_linear(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& b) override;
  void block_diag_parts(const Tensor& x, std::span<const LinearPart> parts) override;
  void add_inplace(Tensor& x, const Tensor& y) override;
  void add_rms_norm(Tensor& x, const Tensor& t, Tensor& h, const Tensor& w, float eps, bool one_plus_weight) override;
  void activation(Tensor& out, const Tensor& x, Activation act) override;
  void activation_mul(Tensor& out, const Tensor& a, const Tensor& b, Activation act) override;
  void linear_parts(const Tensor& x, std::span<const LinearPart> parts) override;
  void gated_linear(Tensor& out, const Tensor& x, const Tensor& w_gate, const Tensor& b_gate, const Tensor& w_up,
                    const Tensor& b_up, Activation act) override;
  void gated_mlp(Tensor& out, const Tensor& x, const Tensor& w_gate, const Tensor& b_gate, const Tensor& w_up,
                 const Tensor& b_up, const Tensor& w_down, const Tensor& b_down, Activation act) override;
  void soft_cap(Tensor& x, float cap) override;

  void conv1d_causal(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& state) override;
  void rglru_scan(Tensor& out, const Tensor& x, const Tensor& gate_x_pre, const Tensor& gate_a_pre,
                  const Tensor& recurrent_param, const std::vector<int64_t>& positions, Tensor& h) override;
  void rglru_block(Tensor& out, const Tensor& y, const Tensor& x, const Tensor& w_x, const Tensor& b_x, const Tensor& w_a,
                   const Tensor& b_a, const Tensor& recurrent_param, std::span<const LruState> states,
                   Activation act) override;
  void rotary(Tensor& x, int heads, int head_dim, int rot_dims, float theta, int64_t first_pos) override;
  void rotary_qk(Tensor& q, int q_heads, Tensor& k, int k_heads, int head_dim, int rot_dims, float theta,
                 int64_t first_pos) override;

  void selective_scan(Tensor& y, const Tensor& x, const Tensor& delta, const Tensor& A_log, const Tensor& B,
                      const Tensor& C, const Tensor& D, Tensor& state) override;
  void gather_rows(Tensor& out, const Tensor& x, const std::vector<int32_t>& rows) override;
  void scatter_add_rows(Tensor& y, const Tensor& src, const std::vector<int32_t>& rows,
                        const std::vector<float>& weights) override;

  void attention(Tensor& out, const Tensor& q, const Tensor& k_new, const Tensor& v_new, KVCache& cache,
                 const AttentionSpec& spec, int64_t first_pos, const AttentionLens* lens) override;

  // A device buffer of `bytes` from the pool, freed (stream-ordered) when the last copy of the Tensor goes.
  Tensor scratch(DType dtype, Shape shape);
  // A device copy of host data.
  template <class T>
  Tensor to_device(const std::vector<T>& v, DType dtype);

 private:
  // out[T, N] (row stride ldo) = x[T, K] (row stride ldx) @ w[N, K]^T, bias added; T > kGemvMaxRows.
  void gemm(float* out, int64_t ldo, const float* x, int64_t ldx, const Tensor& w, const Tensor& bias, int64_t T,
            int64_t K, int64_t N);
  // The same for BF16 weights in the default mode, from x already rounded to bf16 (xb [T, K]): cuBLASLt with
  // the bias in its epilogue, or cuBLAS after a bias fill where cuBLASLt has no algorithm.
  void gemm_bf16(float* out, int64_t ldo, const Tensor& xb, const Tensor& w, const Tensor& bias, int64_t T, int64_t K,
                 int64_t N);
  // x [T, K] (row stride ldx) rounded to bf16, contiguous: the input of gemm_bf16, made once for all the
  // products of one x (linear_parts, gated_linear).
  Tensor bf16_rows(const float* x, int64_t ldx, int64_t T, int64_t K);
  void block_diag_bf16(Tensor& out, const Tensor& xb, const Tensor& w, const Tensor& b);
  static void check_rotary(const char* op, const Tensor& x, int heads, int head_dim, int rot_dims, float theta,
                           int64_t first_pos);
  const float* inv_freq(float theta, int rot_dims);  // on the device, uploaded once per (theta, rot_dims)
  // t as F32: t itself, or an fp32 copy kept while t's memory lives (the biases cuBLASLt's epilogue reads).
  Tensor f32_copy(const Tensor& t);
  // Few-row products (T <= kGemvMaxRows) of one x: the persistent kernels, or the warp kernels under
  // HL_CUDA_GEMV=warp (the persistent launcher itself takes them where it cannot run).
  void few_row_products(const GemvParts& parts, const float* x, WDt dt, WDt bdt, int64_t T, int64_t K);
  // Whether the prefill products of w take gemm_bf16.
  bool bf16_path(const Tensor& w) const { return w.dtype() == DType::BF16 && !precise_; }
  // Whether gated_linear and gated_mlp take their prefill path (T x K input, N gate columns), and its two
  // products: gate [T, N] and up [T, N] from x rounded to bf16 once.
  bool bf16_gate_up(const Tensor& w_gate, const Tensor& w_up, int64_t T, int64_t K, int64_t N) const {
    return T > kGemvMaxRows && K > 0 && N > 0 && bf16_path(w_gate) && bf16_path(w_up);
  }
  void gate_up_bf16(float* gate, float* up, const Tensor& x, const Tensor& w_gate, const Tensor& b_gate,
                    const Tensor& w_up, const Tensor& b_up);

  // Attention for T >= kProductMinQueries queries: per block of queries, scores by cuBLAS, statistics,
  // selection and weights by row kernels, outputs by cuBLAS (cuda_attention_products.cpp).
  static constexpr int64_t kProductMinQueries = 16;
  void attention_products(const AttnArgs& a, const AttnStats& st, const SelectArgs& sel, int manipulation,
                          bool binary_layer_mean);

  int index_;
  int multiprocessors_ = 1;
  bool precise_;
  bool gemv_stream_;  // few-row products by the persistent kernels (not HL_CUDA_GEMV=warp)
  std::map<std::pair<float, int>, Tensor> inv_freq_;  // rotary frequencies per (theta, rot_dims)
  cublasHandle_t blas_ = nullptr;
  LtGemm lt_;
  struct F32Copy {
    std::weak_ptr<const void> owner;  // the source's memory; the copy is stale once it is gone
    Tensor f32;
  };
  std::map<const void*, F32Copy> f32_copies_;
  RecordStaging records_;  // the lens's recordings, copied back at the next to_host or finish
  OpProfile profile_;  // HL_CUDA_PROFILE=1: time per operation, printed at destruction
};

}  // namespace hl::cuda
