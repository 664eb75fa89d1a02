#pragma once
// The numeric operations a model needs, behind one interface with one implementation per device.
// Model code calls these operations and never loops over elements itself, so a CUDA backend can slot in
// without touching the models.
//
// Conventions for every operation:
// - Activations are F32, contiguous, row-major; a "[T, C]" activation has one row per token of the call.
// - Weights may be F32, BF16 or F16 (as stored in the checkpoint) and are read as stored; all arithmetic
//   is done in fp32.
// - `out` tensors are allocated by the caller with the right shape; an operation checks shapes and
//   throws hl::Error naming the operation and the shapes when they disagree.
// - Unless said otherwise, `out` must not alias an input.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "hybridlens/core/tensor.hpp"
#include "hybridlens/lens/attention_lens.hpp"

namespace hl {

enum class Activation { GeluTanh, Silu, Softplus };  // softplus: x > 20 gives x, as torch

// Key/value cache of one attention layer for one sequence. Entry for absolute position p lives in slot
// p % capacity. With a sliding window, capacity == window and the cache is a ring buffer; for global
// attention, capacity >= every position the sequence will reach (the model grows it before a call).
struct KVCache {
  Tensor k, v;           // F32 [capacity, kv_heads * head_dim]
  int64_t capacity = 0;
  int64_t length = 0;    // positions stored so far (the next position to be written)
};

// What an attention call computes; queries of this call are at positions first_pos .. first_pos+T-1.
struct AttentionSpec {
  int heads = 0;
  int kv_heads = 0;      // heads share a KV head in groups of heads / kv_heads (MQA: kv_heads == 1)
  int head_dim = 0;
  int64_t window = 0;    // query at p sees keys [p - window + 1, p]; 0 means unlimited (causal only)
  float scale = 1.0f;    // applied to q.k before the softmax
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  virtual const char* name() const = 0;
  // Makes the results of all queued work visible in host memory (the lens's recordings, which a GPU
  // backend copies back asynchronously); to_host does the same. Model::forward calls it before returning.
  virtual void finish() {}
  // Tokens a model's forward pass runs through its layers at a time: bounds activation memory; larger
  // chunks make larger, more efficient matrix products where memory is plentiful (a GPU).
  virtual int64_t prefill_chunk_tokens() const { return 512; }

  // --- memory -------------------------------------------------------------------------------------
  virtual Tensor zeros(DType dtype, Shape shape) = 0;
  // A tensor for an operation to overwrite completely: its contents are unspecified (zeros on the CPU, where
  // fresh pages are zero anyway; no clearing pass on a GPU).
  virtual Tensor empty(DType dtype, Shape shape) { return zeros(dtype, std::move(shape)); }
  // Makes a weight usable by this backend (CPU: the mapped view itself, no copy).
  virtual Tensor upload(const Tensor& host) = 0;
  // Copies an F32 tensor of this backend to host memory (dst has numel floats).
  virtual void to_host(const Tensor& src, float* dst) = 0;
  // out[r] = argmax (core/argmax.hpp: first on ties, NaN never the largest) of row r of x [R, N], F32:
  // greedy decoding's next tokens without the rows coming to the host. Default: to_host, then the host's.
  virtual void argmax_rows(const Tensor& x, int32_t* out);
  // dst and src have the same dtype and element count.
  virtual void copy(Tensor& dst, const Tensor& src) = 0;
  // Fills t (F32, BF16 or F16, this backend's) with the counter-based uniform values of
  // core/uniform_fill.hpp: random weights made where they live.
  virtual void fill_uniform(Tensor& t, float lo, float hi, uint64_t stream) = 0;

  // --- elementwise and row operations --------------------------------------------------------------
  // out[t, :] = table[ids[t], :] * scale. table: [V, D] any weight dtype; out F32 [T, D]. Ids are checked
  // against V.
  virtual void embed(Tensor& out, const Tensor& table, const std::vector<int32_t>& ids, float scale) = 0;
  // out = x * rsqrt(mean(x^2 over the last dim) + eps) * (one_plus_weight ? 1 + w : w), per row.
  // x, out: F32 [T, C] (may alias); w: [C] any dtype.
  virtual void rms_norm(Tensor& out, const Tensor& x, const Tensor& w, float eps, bool one_plus_weight) = 0;
  // out[t, n] = sum_k x[t, k] * w[n, k] + bias[n]. x F32 [T, K]; w [N, K] any dtype; bias [N] or undefined.
  virtual void linear(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias) = 0;
  // Block-diagonal linear: C = blocks * bw; for block h, out[t, h*bw:(h+1)*bw] = x[t, h*bw:(h+1)*bw] @ w[h] + b[h]
  // with w: [blocks, bw, bw] stored as (in, out) (x @ W, not the nn.Linear layout), b: [blocks, bw].
  virtual void block_diag_linear(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& b) = 0;
  // x += y, both F32 of the same shape.
  virtual void add_inplace(Tensor& x, const Tensor& y) = 0;
  // out = act(x) (may alias).
  virtual void activation(Tensor& out, const Tensor& x, Activation act) = 0;
  // out = act(a) * b (out may alias a or b).
  virtual void activation_mul(Tensor& out, const Tensor& a, const Tensor& b, Activation act) = 0;
  // Several products of one input: *p.out = linear(x, *p.w, *p.bias) for each part (bias may be an undefined
  // tensor). By default one linear each (backend.cpp); CUDA reads every part's weights in one launch for
  // decode rows.
  struct LinearPart {
    Tensor* out;
    const Tensor* w;
    const Tensor* bias;
  };
  virtual void linear_parts(const Tensor& x, std::span<const LinearPart> parts);
  // Several block-diagonal products of one input (the RG-LRU's two gates): by default one
  // block_diag_linear each; CUDA runs them in one launch for decode rows, each part as its own call would.
  virtual void block_diag_parts(const Tensor& x, std::span<const LinearPart> parts);
  // The residual add and the norm after it: x += t, then h = rms_norm(x, w). By default add_inplace and
  // rms_norm (backend.cpp); CUDA does both in one pass.
  virtual void add_rms_norm(Tensor& x, const Tensor& t, Tensor& h, const Tensor& w, float eps, bool one_plus_weight);
  // The gated half of an MLP: out = act(linear(x, w_gate, b_gate)) * linear(x, w_up, b_up). By default the
  // two products and activation_mul (backend.cpp); a backend may fuse them (CUDA does for decode rows).
  virtual void gated_linear(Tensor& out, const Tensor& x, const Tensor& w_gate, const Tensor& b_gate,
                            const Tensor& w_up, const Tensor& b_up, Activation act);
  // A gated MLP: out = linear(act(linear(x, w_gate, b_gate)) * linear(x, w_up, b_up), w_down, b_down). By
  // default gated_linear, then linear (backend.cpp); CUDA hands a prefill's intermediate to the down product
  // in bf16, the rounding that product's tensor-core path applies to it anyway.
  virtual void gated_mlp(Tensor& out, const Tensor& x, const Tensor& w_gate, const Tensor& b_gate, const Tensor& w_up,
                         const Tensor& b_up, const Tensor& w_down, const Tensor& b_down, Activation act);
  // x = cap * tanh(x / cap), in place.
  virtual void soft_cap(Tensor& x, float cap) = 0;

  // --- sequence operations ------------------------------------------------------------------------
  // Causal depthwise conv over time. x, out: F32 [T, C]; w: [C, 1, width] or [C, width] any dtype;
  // bias [C] or undefined. state: F32 [width - 1, C], the inputs before this call, oldest first (zeros
  // for a fresh sequence); updated to the last width - 1 inputs.
  // out[t, c] = bias[c] + sum_j w[c, j] * in[t - (width - 1) + j, c], in[] reading state for t' < 0.
  virtual void conv1d_causal(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias,
                             Tensor& state) = 0;
  // RG-LRU recurrence (RecurrentGemma). x, gate_x_pre, gate_a_pre, out: F32 [T, C]; recurrent_param [C];
  // positions[T] absolute positions; h: F32 [C] state, updated.
  //   gx = sigmoid(gate_x_pre); ga = sigmoid(gate_a_pre)
  //   log_a = -8 * ga * softplus(recurrent_param); a = exp(log_a)
  //   mult = sqrt(1 - a^2) (computed as sqrt(-expm1(2 log_a))), replaced by 1 where position == 0
  //   h = (position == 0 ? 0 : a * h) + mult * gx * x; out = h
  virtual void rglru_scan(Tensor& out, const Tensor& x, const Tensor& gate_x_pre, const Tensor& gate_a_pre,
                          const Tensor& recurrent_param, const std::vector<int64_t>& positions, Tensor& h) = 0;
  // The RG-LRU block between RecurrentGemma's input products and its output product. x: F32 [R, C] (the
  // conv's output), y: F32 [R, C] (the other branch), out: F32 [R, C]; the states run side by side, state b
  // owning rows [b T, (b + 1) T) with T = R / states.size(), its positions first_pos, first_pos + 1, ... and
  // its RG-LRU state *h (F32 [C], updated):
  //   gx = block_diag_linear(x, w_x, b_x); ga = block_diag_linear(x, w_a, b_a);
  //   out rows of state b = rglru_scan(x, gx, ga, recurrent_param, positions, *h); out = act(y) * out.
  // By default exactly those operations (backend.cpp); CUDA does a decode step (one row per state) in one
  // launch.
  struct LruState {
    Tensor* h;
    int64_t first_pos;
  };
  virtual void rglru_block(Tensor& out, const Tensor& y, const Tensor& x, const Tensor& w_x, const Tensor& b_x,
                           const Tensor& w_a, const Tensor& b_a, const Tensor& recurrent_param,
                           std::span<const LruState> states, Activation act);
  // Rotary embedding on the first rot_dims of each head (rotate-half pairing within that part), in place.
  // x: F32 [T, heads * head_dim]; token t has position first_pos + t. inv_freq[i] = theta^(-2i / rot_dims).
  virtual void rotary(Tensor& x, int heads, int head_dim, int rot_dims, float theta, int64_t first_pos) = 0;
  // rotary of the queries q [T, q_heads * head_dim] and the keys k [T, k_heads * head_dim] of the same positions,
  // each as rotary does it (one launch on a GPU). Default: rotary twice.
  virtual void rotary_qk(Tensor& q, int q_heads, Tensor& k, int k_heads, int head_dim, int rot_dims, float theta,
                         int64_t first_pos);

  // --- state-space and mixture-of-experts operations (Jamba, Mamba) ---------------------------------
  // Selective scan (Mamba-1). x, delta, y: F32 [T, Din] (delta after softplus); A_log: [Din, N]; B, C: F32
  // [T, N]; D: [Din]; state: F32 [Din, N], updated. A = -exp(A_log);
  //   h[d, n] = exp(delta[t, d] * A[d, n]) * h[d, n] + delta[t, d] * B[t, n] * x[t, d]
  //   y[t, d] = sum_n h[d, n] * C[t, n] + D[d] * x[t, d]
  virtual void selective_scan(Tensor& y, const Tensor& x, const Tensor& delta, const Tensor& A_log, const Tensor& B,
                              const Tensor& C, const Tensor& D, Tensor& state) {
    unsupported("selective_scan");
  }
  // out[i, :] = x[rows[i], :]. x, out F32.
  virtual void gather_rows(Tensor& out, const Tensor& x, const std::vector<int32_t>& rows) { unsupported("gather_rows"); }
  // y[rows[i], :] += weights[i] * src[i, :]. Rows may repeat.
  virtual void scatter_add_rows(Tensor& y, const Tensor& src, const std::vector<int32_t>& rows,
                                const std::vector<float>& weights) {
    unsupported("scatter_add_rows");
  }

  // --- attention ----------------------------------------------------------------------------------
  // Causal (optionally windowed) multi-head attention for the T queries at first_pos .. first_pos+T-1.
  // q: F32 [T, heads * head_dim]; k_new, v_new: F32 [T, kv_heads * head_dim], the keys/values of the
  // same positions; cache holds the positions before first_pos (cache.length == first_pos). Writes
  // out: F32 [T, heads * head_dim], the per-head outputs before the output projection, then stores
  // k_new/v_new into the cache and advances cache.length. `lens` (may be null) says what to record and
  // how to intervene (lens/attention_lens.hpp).
  virtual void attention(Tensor& out, const Tensor& q, const Tensor& k_new, const Tensor& v_new,
                         KVCache& cache, const AttentionSpec& spec, int64_t first_pos,
                         const AttentionLens* lens) = 0;

 protected:
  [[noreturn]] void unsupported(const char* op) const {
    fail("the ", name(), " backend does not implement ", op);
  }
};

// The CPU backend (backend/cpu).
std::unique_ptr<Backend> make_cpu_backend();

}  // namespace hl
