// Linear, several linears of one input, the gated MLP product, block-diagonal linear and the RG-LRU block
// built on it on the GPU: the few-row kernels of gemv.cu for decode, cuBLAS / cuBLASLt for prefill (see
// cuda_backend.hpp for the precision of each path).
#include <algorithm>

#include "hybridlens/backend/cuda/checks.hpp"
#include "hybridlens/backend/cuda/cuda_backend.hpp"
#include "hybridlens/backend/cuda/cuda_check.hpp"
#include "hybridlens/backend/cuda/kernels.hpp"
#include "hybridlens/backend/cuda/wdt.hpp"
#include "hybridlens/backend/op_checks.hpp"

namespace hl::cuda {
namespace {

constexpr size_t kWidenBytes = size_t(256) << 20;  // fp32 copy of a weight slice for the widening path

// The fused few-row kernels take one dtype for all their weights and one for all their biases (or none).
bool fusable_with(const Tensor& w0, const Tensor& b0, const Tensor& w, const Tensor& b) {
  return w.dtype() == w0.dtype() && b.defined() == b0.defined() && (!b.defined() || b.dtype() == b0.dtype());
}

// Whether several products of one x with T rows may share one few-row launch: at most kMaxGemvParts, one
// weight dtype and one bias dtype, outputs that do not overlap (a part's output may not feed another part).
bool parts_fusable(std::span<const Backend::LinearPart> parts, int64_t T) {
  bool ok = T > 0 && T <= kGemvMaxRows && !parts.empty() && parts.size() <= size_t(kMaxGemvParts);
  for (const Backend::LinearPart& p : parts) {
    ok = ok && fusable_with(*parts[0].w, *parts[0].bias, *p.w, *p.bias);
    for (const Backend::LinearPart& q : parts) ok = ok && (&p == &q || !overlaps(*p.out, *q.out));
  }
  return ok;
}

// The launch argument of a parts kernel (GemvParts, BlockDiagParts): outputs, weights, biases.
template <class P>
P launch_parts(std::span<const Backend::LinearPart> parts) {
  P g{};
  g.count = int(parts.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    g.out[i] = parts[i].out->data<float>();
    g.w[i] = parts[i].w->raw();
    g.bias[i] = parts[i].bias->defined() ? parts[i].bias->raw() : nullptr;
  }
  return g;
}

}  // namespace

void CudaBackend::gemm(float* out, int64_t ldo, const float* x, int64_t ldx, const Tensor& w, const Tensor& bias,
                       int64_t T, int64_t K, int64_t N) {
  const char* op = "linear";
  if (bf16_path(w)) {
    gemm_bf16(out, ldo, bf16_rows(x, ldx, T, K), w, bias, T, K, N);
    return;
  }
  launch_fill_bias(out, bias.defined() ? bias.raw() : nullptr, bias.defined() ? wdt(bias) : WDt::F32, T, N, ldo,
                   nullptr);
  check_launch(op);
  const float one = 1.0f;
  // Column-major view: out^T [N, T] = W [N, K] (stored as col-major K x N, transposed) * x^T [K, T].
  if (w.dtype() == DType::F32) {
    check_cublas(cublasSgemm(blas_, CUBLAS_OP_T, CUBLAS_OP_N, int(N), int(T), int(K), &one, w.data<float>(), int(K), x,
                             int(ldx), &one, out, int(ldo)),
                 op);
    return;
  }
  // F16 weights, or BF16 in precise mode: widen slices of rows to fp32 and use SGEMM.
  const int64_t rows = std::max<int64_t>(1, int64_t(kWidenBytes / (size_t(std::max<int64_t>(K, 1)) * 4)));
  const int64_t chunk = std::min(N, rows);
  Tensor wf = scratch(DType::F32, {chunk, K});
  const size_t esize = dtype_size(w.dtype());
  for (int64_t n0 = 0; n0 < N; n0 += chunk) {
    const int64_t n = std::min(chunk, N - n0);
    launch_to_f32(wf.data<float>(), static_cast<const char*>(w.raw()) + size_t(n0 * K) * esize, wdt(w), n * K, nullptr);
    check_launch(op);
    check_cublas(cublasSgemm(blas_, CUBLAS_OP_T, CUBLAS_OP_N, int(n), int(T), int(K), &one, wf.data<float>(), int(K),
                             x, int(ldx), &one, out + n0, int(ldo)),
                 op);
  }
}

Tensor CudaBackend::bf16_rows(const float* x, int64_t ldx, int64_t T, int64_t K) {
  Tensor xb = scratch(DType::BF16, {T, K});
  if (ldx == K) {
    launch_to_bf16(static_cast<uint16_t*>(xb.raw()), x, T * K, nullptr);
  } else {
    for (int64_t t = 0; t < T; ++t) launch_to_bf16(static_cast<uint16_t*>(xb.raw()) + t * K, x + t * ldx, K, nullptr);
  }
  check_launch("linear");
  return xb;
}

Tensor CudaBackend::f32_copy(const Tensor& t) {
  if (t.dtype() == DType::F32) return t;
  const auto same_owner = [&](const std::weak_ptr<const void>& o) {
    return !o.expired() && !o.owner_before(t.owner()) && !t.owner().owner_before(o);
  };
  auto it = f32_copies_.find(t.raw());
  if (it != f32_copies_.end() && same_owner(it->second.owner) && it->second.f32.numel() == t.numel())
    return it->second.f32;
  Tensor f = scratch(DType::F32, {t.numel()});
  launch_to_f32(f.data<float>(), t.raw(), wdt(t), t.numel(), nullptr);
  check_launch("linear");
  if (t.owner()) {
    std::erase_if(f32_copies_, [](const auto& kv) { return kv.second.owner.expired(); });
    f32_copies_[t.raw()] = F32Copy{t.owner(), f};
  }
  return f;
}

void CudaBackend::gemm_bf16(float* out, int64_t ldo, const Tensor& xb, const Tensor& w, const Tensor& bias, int64_t T,
                            int64_t K, int64_t N) {
  const char* op = "linear";
  const Tensor b32 = bias.defined() ? f32_copy(bias) : Tensor();
  if (lt_.run(out, ldo, xb.raw(), w.raw(), b32.defined() ? b32.data<float>() : nullptr, T, K, N)) return;
  launch_fill_bias(out, b32.defined() ? b32.raw() : nullptr, WDt::F32, T, N, ldo, nullptr);
  check_launch(op);
  const float one = 1.0f;
  check_cublas(cublasGemmEx(blas_, CUBLAS_OP_T, CUBLAS_OP_N, int(N), int(T), int(K), &one, w.raw(), CUDA_R_16BF, int(K),
                            xb.raw(), CUDA_R_16BF, int(K), &one, out, CUDA_R_32F, int(ldo), CUBLAS_COMPUTE_32F,
                            CUBLAS_GEMM_DEFAULT),
               op);
}

void CudaBackend::linear(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias) {
  constexpr const char* op = "linear";
  const auto timed = profile_.time(op);
  checks::check_linear_args(DeviceKind::CUDA, out, x, w, bias);
  const int64_t T = x.dim(0), K = x.dim(1), N = w.dim(0);
  if (T == 0 || N == 0) return;
  const void* b = bias.defined() ? bias.raw() : nullptr;
  const WDt bdt = bias.defined() ? wdt(bias) : WDt::F32;
  if (K == 0) {
    launch_fill_bias(out.data<float>(), b, bdt, T, N, N, nullptr);
    check_launch(op);
    return;
  }
  if (T <= kGemvMaxRows) {
    GemvParts one{};
    one.out[0] = out.data<float>();
    one.w[0] = w.raw();
    one.bias[0] = b;
    one.N[0] = N;
    one.count = 1;
    few_row_products(one, x.data<float>(), wdt(w), bdt, T, K);
    check_launch(op);
    return;
  }
  gemm(out.data<float>(), N, x.data<float>(), K, w, bias, T, K, N);
}

void CudaBackend::linear_parts(const Tensor& x, std::span<const LinearPart> parts) {
  for (const LinearPart& p : parts) checks::check_linear_args(DeviceKind::CUDA, *p.out, x, *p.w, *p.bias);
  const int64_t T = x.dim(0), K = x.dim(1);
  bool shared_bf16 = T > kGemvMaxRows && K > 0;
  for (const LinearPart& p : parts) shared_bf16 = shared_bf16 && bf16_path(*p.w);
  if (shared_bf16) {  // prefill: x rounded to bf16 once for all the parts
    const auto timed = profile_.time("linear");
    const Tensor xb = bf16_rows(x.data<float>(), K, T, K);
    for (const LinearPart& p : parts)
      if (p.w->dim(0) > 0) gemm_bf16(p.out->data<float>(), p.w->dim(0), xb, *p.w, *p.bias, T, K, p.w->dim(0));
    return;
  }
  if (K == 0 || !parts_fusable(parts, T)) {
    Backend::linear_parts(x, parts);  // one linear each
    return;
  }
  constexpr const char* op = "linear_parts";
  const auto timed = profile_.time(op);
  GemvParts g = launch_parts<GemvParts>(parts);
  for (size_t i = 0; i < parts.size(); ++i) g.N[i] = parts[i].w->dim(0);
  const Tensor& b0 = *parts[0].bias;
  few_row_products(g, x.data<float>(), wdt(*parts[0].w), b0.defined() ? wdt(b0) : WDt::F32, T, K);
  check_launch(op);
}

void CudaBackend::few_row_products(const GemvParts& parts, const float* x, WDt dt, WDt bdt, int64_t T, int64_t K) {
  if (gemv_stream_)
    launch_gemv_stream(parts, x, dt, bdt, T, K, nullptr);
  else
    launch_gemv_parts(parts, x, dt, bdt, T, K, nullptr);
}

void CudaBackend::block_diag_parts(const Tensor& x, std::span<const LinearPart> parts) {
  for (const LinearPart& p : parts) checks::check_block_diag_linear_args(DeviceKind::CUDA, *p.out, x, *p.w, *p.bias);
  bool fusable = parts_fusable(parts, x.dim(0));
  for (const LinearPart& p : parts) fusable = fusable && p.w->shape() == parts[0].w->shape();
  if (fusable) {
    constexpr const char* op = "block_diag_parts";
    const auto timed = profile_.time(op);
    const Tensor& w0 = *parts[0].w;
    const Tensor& b0 = *parts[0].bias;
    if (launch_block_diag_parts(launch_parts<BlockDiagParts>(parts), x.data<float>(), wdt(w0),
                                b0.defined() ? wdt(b0) : WDt::F32, x.dim(0), w0.dim(0), w0.dim(1), nullptr)) {
      check_launch(op);
      return;
    }
  }
  bool shared_bf16 = x.defined() && x.ndim() == 2 && x.dim(0) > kGemvMaxRows && x.dim(1) > 0;
  for (const LinearPart& p : parts) shared_bf16 = shared_bf16 && bf16_path(*p.w);
  if (shared_bf16) {  // prefill: x rounded to bf16 once for all the parts
    const auto timed = profile_.time("block_diag_linear");
    const Tensor xb = bf16_rows(x.data<float>(), x.dim(1), x.dim(0), x.dim(1));
    for (const LinearPart& p : parts) block_diag_bf16(*p.out, xb, *p.w, *p.bias);
    return;
  }
  Backend::block_diag_parts(x, parts);  // one block_diag_linear each
}

void CudaBackend::rglru_block(Tensor& out, const Tensor& y, const Tensor& x, const Tensor& w_x, const Tensor& b_x,
                              const Tensor& w_a, const Tensor& b_a, const Tensor& recurrent_param,
                              std::span<const LruState> states, Activation act) {
  constexpr const char* op = "rglru_block";
  const int64_t R = x.defined() && x.ndim() == 2 ? x.dim(0) : -1;
  // A decode step (one row per state) in one launch when the weights allow; anything else as the parts.
  const bool one_launch = R > 0 && R == int64_t(states.size()) && R <= kGemvMaxRows &&
                          fusable_with(w_x, b_x, w_a, b_a) && w_x.shape() == w_a.shape() && y.shape() == x.shape();
  if (one_launch) {
    checks::check_block_diag_linear_args(DeviceKind::CUDA, out, x, w_x, b_x);
    checks::check_block_diag_linear_args(DeviceKind::CUDA, out, x, w_a, b_a);
    for (const LruState& st : states)
      checks::check_rglru_scan_args(DeviceKind::CUDA, out.rows(0, 1), x.rows(0, 1), x.rows(0, 1), x.rows(0, 1),
                                    recurrent_param, {st.first_pos}, *st.h);
    check_f32(op, "y", y, 2);
    RglruBlockArgs p{};
    p.out = out.data<float>();
    p.y = y.data<float>();
    p.w_x = w_x.raw();
    p.b_x = b_x.defined() ? b_x.raw() : nullptr;
    p.w_a = w_a.raw();
    p.b_a = b_a.defined() ? b_a.raw() : nullptr;
    p.rp = recurrent_param.raw();
    p.rdt = wdt(recurrent_param);
    p.act = act_of(act);
    for (int64_t r = 0; r < R; ++r) {
      p.h[r] = states[size_t(r)].h->data<float>();
      p.pos[r] = states[size_t(r)].first_pos;
    }
    const auto timed = profile_.time(op);
    if (launch_rglru_block(p, x.data<float>(), wdt(w_x), b_x.defined() ? wdt(b_x) : WDt::F32, R, w_x.dim(0),
                           w_x.dim(1), nullptr)) {
      check_launch(op);
      return;
    }
  }
  Backend::rglru_block(out, y, x, w_x, b_x, w_a, b_a, recurrent_param, states, act);
}

void CudaBackend::gate_up_bf16(float* gate, float* up, const Tensor& x, const Tensor& w_gate, const Tensor& b_gate,
                               const Tensor& w_up, const Tensor& b_up) {
  const int64_t T = x.dim(0), K = x.dim(1), N = w_gate.dim(0);
  const Tensor xb = bf16_rows(x.data<float>(), K, T, K);
  gemm_bf16(gate, N, xb, w_gate, b_gate, T, K, N);
  gemm_bf16(up, N, xb, w_up, b_up, T, K, N);
}

void CudaBackend::gated_linear(Tensor& out, const Tensor& x, const Tensor& w_gate, const Tensor& b_gate,
                               const Tensor& w_up, const Tensor& b_up, Activation act) {
  checks::check_linear_args(DeviceKind::CUDA, out, x, w_gate, b_gate);
  checks::check_linear_args(DeviceKind::CUDA, out, x, w_up, b_up);
  const int64_t T = x.dim(0), K = x.dim(1), N = w_gate.dim(0);
  if (bf16_gate_up(w_gate, w_up, T, K, N)) {  // prefill: the two products, then act(gate) * up
    const auto timed = profile_.time("linear");
    Tensor gate = scratch(DType::F32, {T, N});
    gate_up_bf16(gate.data<float>(), out.data<float>(), x, w_gate, b_gate, w_up, b_up);
    activation_mul(out, gate, out, act);
    return;
  }
  if (T > kGemvMaxRows || K == 0 || N == 0 || !fusable_with(w_gate, b_gate, w_up, b_up)) {
    Backend::gated_linear(out, x, w_gate, b_gate, w_up, b_up, act);  // separate products and activation_mul
    return;
  }
  constexpr const char* op = "gated_linear";
  const auto timed = profile_.time(op);
  if (gemv_stream_) {
    launch_gated_gemv_stream(out.data<float>(), x.data<float>(), w_gate.raw(),
                             b_gate.defined() ? b_gate.raw() : nullptr, w_up.raw(),
                             b_up.defined() ? b_up.raw() : nullptr, wdt(w_gate),
                             b_gate.defined() ? wdt(b_gate) : WDt::F32, T, K, N, act_of(act), nullptr);
    check_launch(op);
    return;
  }
  launch_gated_gemv(out.data<float>(), x.data<float>(), w_gate.raw(), b_gate.defined() ? b_gate.raw() : nullptr,
                    w_up.raw(), b_up.defined() ? b_up.raw() : nullptr, wdt(w_gate),
                    b_gate.defined() ? wdt(b_gate) : WDt::F32, T, K, N, act_of(act), nullptr);
  check_launch(op);
}

void CudaBackend::gated_mlp(Tensor& out, const Tensor& x, const Tensor& w_gate, const Tensor& b_gate,
                            const Tensor& w_up, const Tensor& b_up, const Tensor& w_down, const Tensor& b_down,
                            Activation act) {
  const int64_t T = x.defined() && x.ndim() == 2 ? x.dim(0) : 0, K = T > 0 ? x.dim(1) : 0;
  const int64_t N = w_gate.defined() && w_gate.ndim() == 2 ? w_gate.dim(0) : 0;
  if (!bf16_gate_up(w_gate, w_up, T, K, N) || !bf16_path(w_down)) {
    Backend::gated_mlp(out, x, w_gate, b_gate, w_up, b_up, w_down, b_down, act);  // gated_linear, then linear
    return;
  }
  // prefill: the products as gated_linear and linear run them, with act(gate) * up written once, in bf16
  Tensor gate = scratch(DType::F32, {T, N}), up = scratch(DType::F32, {T, N});
  checks::check_linear_args(DeviceKind::CUDA, gate, x, w_gate, b_gate);
  checks::check_linear_args(DeviceKind::CUDA, up, x, w_up, b_up);
  checks::check_linear_args(DeviceKind::CUDA, out, up, w_down, b_down);
  const auto timed = profile_.time("linear");
  gate_up_bf16(gate.data<float>(), up.data<float>(), x, w_gate, b_gate, w_up, b_up);
  Tensor mid = scratch(DType::BF16, {T, N});
  launch_activation_mul_bf16(static_cast<uint16_t*>(mid.raw()), gate.data<float>(), up.data<float>(), T * N,
                             act_of(act), nullptr);
  check_launch("gated_mlp");
  gemm_bf16(out.data<float>(), out.dim(1), mid, w_down, b_down, T, N, out.dim(1));
}

void CudaBackend::block_diag_linear(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& b) {
  constexpr const char* op = "block_diag_linear";
  const auto timed = profile_.time(op);
  checks::check_block_diag_linear_args(DeviceKind::CUDA, out, x, w, b);
  const int64_t T = x.dim(0), C = x.dim(1), blocks = w.dim(0), bw = w.dim(1);
  if (T == 0 || C == 0) return;
  const void* bp = b.defined() ? b.raw() : nullptr;
  const WDt bdt = b.defined() ? wdt(b) : WDt::F32;
  if (T <= kGemvMaxRows) {
    launch_block_diag(out.data<float>(), x.data<float>(), w.raw(), wdt(w), bp, bdt, T, blocks, bw, nullptr);
    check_launch(op);
    return;
  }
  if (bf16_path(w)) {
    block_diag_bf16(out, bf16_rows(x.data<float>(), C, T, C), w, b);
    return;
  }
  // Batched over blocks; column-major view of block h: out_h^T [bw, T] = W_h^T ... W_h stored (in, out)
  // row-major is the col-major [out, in] matrix, so no transpose: out_h^T = W_h(col-major) * x_h^T.
  launch_fill_bias(out.data<float>(), bp, bdt, T, C, C, nullptr);
  check_launch(op);
  const float one = 1.0f;
  const long long sA = bw * bw, sB = bw, sC = bw;
  Tensor wf;
  if (w.dtype() == DType::F32) {
    wf = w;
  } else {
    wf = scratch(DType::F32, w.shape());
    launch_to_f32(wf.data<float>(), w.raw(), wdt(w), w.numel(), nullptr);
    check_launch(op);
  }
  check_cublas(cublasSgemmStridedBatched(blas_, CUBLAS_OP_N, CUBLAS_OP_N, int(bw), int(T), int(bw), &one,
                                         wf.data<float>(), int(bw), sA, x.data<float>(), int(C), sB, &one,
                                         out.data<float>(), int(C), sC, int(blocks)),
               op);
}

// The prefill's bf16 block-diagonal product of rows already rounded to bf16: one batched cuBLASLt call with
// the bias in its epilogue, or else the bias written into out and a batched GemmEx adding to it.
void CudaBackend::block_diag_bf16(Tensor& out, const Tensor& xb, const Tensor& w, const Tensor& b) {
  const char* op = "block_diag_linear";
  const int64_t T = xb.dim(0), C = xb.dim(1), blocks = w.dim(0), bw = w.dim(1);
  const Tensor b32 = b.defined() ? f32_copy(b) : Tensor();
  const float* bias = b32.defined() ? b32.data<float>() : nullptr;
  // (blocks a multiple of 8 wide: every block's rows start 16-byte aligned, as cuBLASLt's kernels want)
  if (bw % 8 == 0 && lt_.run_block_diag(out.data<float>(), xb.raw(), w.raw(), bias, T, blocks, bw)) return;
  launch_fill_bias(out.data<float>(), bias, WDt::F32, T, C, C, nullptr);
  check_launch(op);
  const float one = 1.0f;
  check_cublas(cublasGemmStridedBatchedEx(blas_, CUBLAS_OP_N, CUBLAS_OP_N, int(bw), int(T), int(bw), &one, w.raw(),
                                          CUDA_R_16BF, int(bw), bw * bw, xb.raw(), CUDA_R_16BF, int(C), bw, &one,
                                          out.raw(), CUDA_R_32F, int(C), bw, int(blocks), CUBLAS_COMPUTE_32F,
                                          CUBLAS_GEMM_DEFAULT),
               op);
}

}  // namespace hl::cuda
