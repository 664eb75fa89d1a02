// CudaBackend: memory, elementwise, row and sequence operations (argument checks as the CPU backend's,
// then the kernels of elementwise.cu and sequence.cu). Linear algebra: cuda_linear.cpp; attention:
// cuda_attention.cpp.
#include "hybridlens/backend/cuda/cuda_backend.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include "hybridlens/backend/cuda/checks.hpp"
#include "hybridlens/backend/cuda/cuda_check.hpp"
#include "hybridlens/backend/cuda/kernels.hpp"
#include "hybridlens/backend/cuda/wdt.hpp"
#include "hybridlens/backend/op_checks.hpp"

namespace hl::cuda {

namespace {
// HL_CUDA_GEMV=warp: the few-row products by the warp-split kernels (same bits, slower), for comparison.
bool gemv_kind_stream() {
  const char* v = std::getenv("HL_CUDA_GEMV");
  return !(v && std::strcmp(v, "warp") == 0);
}
}  // namespace

CudaBackend::CudaBackend(int index, bool precise)
    : index_(index), precise_(precise), gemv_stream_(gemv_kind_stream()) {
  int count = 0;
  check_cuda(cudaGetDeviceCount(&count), "cuda backend");
  HL_CHECK(index >= 0 && index < count, "cuda:", index, " does not exist (", count, " CUDA device",
           count == 1 ? "" : "s", " found)");
  check_cuda(cudaSetDevice(index), "cuda backend: selecting the device");
  check_cuda(cudaDeviceGetAttribute(&multiprocessors_, cudaDevAttrMultiProcessorCount, index),
             "cuda backend: reading the multiprocessor count");
  // Keep freed blocks in the pool: a forward pass frees and reallocates the same sizes again and again.
  cudaMemPool_t pool;
  check_cuda(cudaDeviceGetDefaultMemPool(&pool, index), "cuda backend: memory pool");
  uint64_t keep = UINT64_MAX;
  check_cuda(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep), "cuda backend: memory pool");
  check_cublas(cublasCreate(&blas_), "cuda backend: cuBLAS handle");
  check_cublas(cublasSetStream(blas_, nullptr), "cuda backend: cuBLAS stream");
}

CudaBackend::~CudaBackend() {
  if (blas_) cublasDestroy(blas_);
}

Tensor CudaBackend::scratch(DType dtype, Shape shape) {
  for (int64_t d : shape) HL_CHECK(d >= 0, "negative dimension in shape ", shape_str(shape));
  const size_t bytes = size_t(shape_numel(shape)) * dtype_size(dtype);
  void* p = nullptr;
  const cudaError_t e = cudaMallocAsync(&p, bytes ? bytes : 256, nullptr);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error state
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    fail("out of GPU memory on cuda:", index_, " allocating ", bytes, " bytes for a ", dtype_name(dtype),
         shape_str(shape), " tensor (", free_b >> 20, " MiB free of ", total_b >> 20, " MiB)");
  }
  std::shared_ptr<const void> owner(p, [](const void* q) { cudaFreeAsync(const_cast<void*>(q), nullptr); });
  return Tensor::view(p, dtype, std::move(shape), std::move(owner), device());
}

template <class T>
Tensor CudaBackend::to_device(const std::vector<T>& v, DType dtype) {
  Tensor t = scratch(dtype, {int64_t(v.size())});
  if (!v.empty())
    check_cuda(cudaMemcpyAsync(t.raw(), v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice, nullptr),
               "copy to the GPU");
  return t;
}
template Tensor CudaBackend::to_device(const std::vector<int32_t>&, DType);
template Tensor CudaBackend::to_device(const std::vector<float>&, DType);
template Tensor CudaBackend::to_device(const std::vector<uint8_t>&, DType);

Tensor CudaBackend::zeros(DType dtype, Shape shape) {
  Tensor t = scratch(dtype, std::move(shape));
  if (t.nbytes()) check_cuda(cudaMemsetAsync(t.raw(), 0, t.nbytes(), nullptr), "zeros");
  return t;
}

Tensor CudaBackend::upload(const Tensor& host) {
  HL_CHECK(host.defined(), "upload: host is undefined");
  if (host.device() == device()) return host;
  HL_CHECK(host.device().kind == DeviceKind::CPU, "upload: ", host.describe(), " lives on ", host.device().str());
  Tensor t = scratch(host.dtype(), host.shape());
  if (host.nbytes()) check_cuda(cudaMemcpy(t.raw(), host.raw(), host.nbytes(), cudaMemcpyHostToDevice), "upload");
  return t;
}

void CudaBackend::to_host(const Tensor& src, float* dst) {
  check_defined("to_host", "src", src);
  HL_CHECK(src.dtype() == DType::F32, "to_host: src must be F32, got ", src.describe());
  HL_CHECK(dst != nullptr || src.numel() == 0, "to_host: null destination for ", src.describe());
  const auto timed = profile_.time("to_host");
  // Through the pinned staging memory (a pageable copy of the 2B shape's 1 MB of logits ran at ~4.5 GB/s),
  // except copies too large to keep pinned memory for (all of a long prompt's logits, say).
  constexpr size_t kPinnedMax = size_t(64) << 20;
  if (src.nbytes() > kPinnedMax) {
    records_.flush();
    check_cuda(cudaMemcpy(dst, src.raw(), src.nbytes(), cudaMemcpyDeviceToHost), "to_host");
    return;
  }
  if (src.numel() > 0) records_.queue(dst, src.numel(), src.raw(), 1, src.numel(), sizeof(float));
  records_.flush();
}

void CudaBackend::argmax_rows(const Tensor& x, int32_t* out) {
  constexpr const char* op = "argmax_rows";
  check_defined(op, "x", x);
  HL_CHECK(x.dtype() == DType::F32 && x.ndim() == 2, op, ": x must be a 2-D F32 tensor, got ", x.describe());
  const auto timed = profile_.time(op);
  const int64_t R = x.dim(0), N = x.dim(1);
  if (R == 0) return;
  HL_CHECK(out != nullptr, op, ": null destination for ", x.describe());
  Tensor partial = scratch(DType::U8, {int64_t(argmax_scratch_bytes(R, N))});
  // the ids come back with the step's lens recordings, in the same copy
  auto* ids = static_cast<int32_t*>(records_.arena(size_t(R) * sizeof(int32_t)));
  launch_argmax_rows(ids, partial.raw(), x.data<float>(), R, N, nullptr);
  check_launch(op);
  records_.queue_arena(out, R, ids, 1, R, sizeof(int32_t));
  records_.flush();
}

void CudaBackend::copy(Tensor& dst, const Tensor& src) {
  HL_CHECK(src.defined(), "copy: src is undefined");
  HL_CHECK(dst.defined(), "copy: dst is undefined");
  HL_CHECK(dst.dtype() == src.dtype() && dst.numel() == src.numel(), "copy: dst ", dst.describe(), " and src ",
           src.describe(), " must have the same dtype and element count");
  const auto timed = profile_.time("copy");
  if (src.nbytes() > 0 && dst.raw() != src.raw())
    check_cuda(cudaMemcpyAsync(dst.raw(), src.raw(), src.nbytes(), cudaMemcpyDefault, nullptr), "copy");
}

void CudaBackend::fill_uniform(Tensor& t, float lo, float hi, uint64_t stream) {
  constexpr const char* op = "fill_uniform";
  const auto timed = profile_.time(op);
  check_defined(op, "t", t);
  HL_CHECK(t.device().kind == DeviceKind::CUDA, op, ": t must be on the GPU, got ", t.describe());
  HL_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::BF16 || t.dtype() == DType::F16, op,
           ": t must be F32, BF16 or F16, got ", t.describe());
  launch_fill_uniform(t.raw(), wdt(t), t.numel(), lo, hi, stream, nullptr);
  check_launch(op);
}

void CudaBackend::embed(Tensor& out, const Tensor& table, const std::vector<int32_t>& ids, float scale) {
  constexpr const char* op = "embed";
  const auto timed = profile_.time(op);
  check_weight(op, "table", table, 2);
  check_f32(op, "out", out, 2);
  const int64_t V = table.dim(0), D = table.dim(1), T = int64_t(ids.size());
  HL_CHECK(out.dim(0) == T && out.dim(1) == D, op, ": out ", out.describe(), " must be F32[", T, ", ", D, "] for ", T,
           " ids and table ", table.describe());
  for (int64_t t = 0; t < T; ++t)
    HL_CHECK(ids[size_t(t)] >= 0 && ids[size_t(t)] < V, op, ": token id ", ids[size_t(t)], " at position ", t,
             " is outside the vocabulary [0, ", V, ") of table ", table.describe());
  if (T == 0) return;
  const Tensor dids = to_device(ids, DType::I32);
  launch_embed(out.data<float>(), table.raw(), wdt(table), dids.data<int32_t>(), T, D, scale, nullptr);
  check_launch(op);
}

void CudaBackend::rms_norm(Tensor& out, const Tensor& x, const Tensor& w, float eps, bool one_plus_weight) {
  constexpr const char* op = "rms_norm";
  const auto timed = profile_.time(op);
  check_f32(op, "x", x, 2);
  check_f32(op, "out", out, 2);
  check_weight(op, "w", w, 1);
  check_same_shape(op, "out", out, "x", x);
  check_alias_exact_or_none(op, "out", out, "x", x);
  HL_CHECK(w.dim(0) == x.dim(1), op, ": w ", w.describe(), " must have ", x.dim(1), " elements for x ", x.describe());
  HL_CHECK(eps >= 0.0f, op, ": eps must be >= 0, got ", eps);
  launch_rms_norm(out.data<float>(), x.data<float>(), w.raw(), wdt(w), x.dim(0), x.dim(1), eps, one_plus_weight,
                  nullptr);
  check_launch(op);
}

void CudaBackend::add_inplace(Tensor& x, const Tensor& y) {
  constexpr const char* op = "add_inplace";
  const auto timed = profile_.time(op);
  check_defined(op, "x", x);
  check_defined(op, "y", y);
  HL_CHECK(x.dtype() == DType::F32 && y.dtype() == DType::F32, op, ": x and y must be F32, got ", x.describe(), " and ",
           y.describe());
  check_same_shape(op, "x", x, "y", y);
  check_alias_exact_or_none(op, "x", x, "y", y);
  launch_add(x.data<float>(), y.data<float>(), x.numel(), nullptr);
  check_launch(op);
}

void CudaBackend::add_rms_norm(Tensor& x, const Tensor& t, Tensor& h, const Tensor& w, float eps,
                               bool one_plus_weight) {
  constexpr const char* op = "add_rms_norm";
  const auto timed = profile_.time(op);
  check_f32(op, "x", x, 2);
  check_f32(op, "t", t, 2);
  check_f32(op, "h", h, 2);
  check_weight(op, "w", w, 1);
  check_same_shape(op, "x", x, "t", t);
  check_same_shape(op, "h", h, "x", x);
  check_alias_exact_or_none(op, "x", x, "t", t);
  check_no_alias(op, "h", h, "x", x);
  check_no_alias(op, "h", h, "t", t);
  HL_CHECK(w.dim(0) == x.dim(1), op, ": w ", w.describe(), " must have ", x.dim(1), " elements for x ", x.describe());
  HL_CHECK(eps >= 0.0f, op, ": eps must be >= 0, got ", eps);
  launch_add_rms_norm(x.data<float>(), t.data<float>(), h.data<float>(), w.raw(), wdt(w), x.dim(0), x.dim(1), eps,
                      one_plus_weight, nullptr);
  check_launch(op);
}

void CudaBackend::activation(Tensor& out, const Tensor& x, Activation act) {
  constexpr const char* op = "activation";
  const auto timed = profile_.time(op);
  check_defined(op, "x", x);
  check_defined(op, "out", out);
  HL_CHECK(x.dtype() == DType::F32 && out.dtype() == DType::F32, op, ": x and out must be F32, got ", x.describe(),
           " and ", out.describe());
  check_same_shape(op, "out", out, "x", x);
  check_alias_exact_or_none(op, "out", out, "x", x);
  launch_activation(out.data<float>(), x.data<float>(), nullptr, x.numel(), act_of(act), nullptr);
  check_launch(op);
}

void CudaBackend::activation_mul(Tensor& out, const Tensor& a, const Tensor& b, Activation act) {
  constexpr const char* op = "activation_mul";
  const auto timed = profile_.time(op);
  for (const auto& [n, t] : {std::pair<const char*, const Tensor*>{"a", &a}, {"b", &b}, {"out", &out}}) {
    check_defined(op, n, *t);
    HL_CHECK(t->dtype() == DType::F32, op, ": ", n, " must be F32, got ", t->describe());
  }
  check_same_shape(op, "a", a, "b", b);
  check_same_shape(op, "out", out, "a", a);
  check_alias_exact_or_none(op, "out", out, "a", a);
  check_alias_exact_or_none(op, "out", out, "b", b);
  launch_activation(out.data<float>(), a.data<float>(), b.data<float>(), a.numel(), act_of(act), nullptr);
  check_launch(op);
}

void CudaBackend::soft_cap(Tensor& x, float cap) {
  constexpr const char* op = "soft_cap";
  const auto timed = profile_.time(op);
  check_defined(op, "x", x);
  HL_CHECK(x.dtype() == DType::F32, op, ": x must be F32, got ", x.describe());
  HL_CHECK(cap > 0.0f && std::isfinite(cap), op, ": cap must be positive and finite, got ", cap);
  launch_soft_cap(x.data<float>(), x.numel(), cap, nullptr);
  check_launch(op);
}

void CudaBackend::conv1d_causal(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& state) {
  constexpr const char* op = "conv1d_causal";
  const auto timed = profile_.time(op);
  checks::check_conv1d_causal_args(DeviceKind::CUDA, out, x, w, bias, state);
  const int64_t T = x.dim(0), C = x.dim(1), width = w.dim(-1);
  launch_conv1d(out.data<float>(), x.data<float>(), w.raw(), wdt(w), bias.defined() ? bias.raw() : nullptr,
                bias.defined() ? wdt(bias) : WDt::F32, state.data<float>(), T, C, width, nullptr);
  check_launch(op);
}

void CudaBackend::rglru_scan(Tensor& out, const Tensor& x, const Tensor& gate_x_pre, const Tensor& gate_a_pre,
                             const Tensor& recurrent_param, const std::vector<int64_t>& positions, Tensor& h) {
  constexpr const char* op = "rglru_scan";
  const auto timed = profile_.time(op);
  checks::check_rglru_scan_args(DeviceKind::CUDA, out, x, gate_x_pre, gate_a_pre, recurrent_param, positions, h);
  const int64_t T = x.dim(0), C = x.dim(1);
  if (T == 0 || C == 0) return;
  // Consecutive positions (what the models pass) need no upload, which would synchronise the stream.
  bool consecutive = true;
  for (int64_t t = 1; t < T && consecutive; ++t) consecutive = positions[size_t(t)] == positions[0] + t;
  Tensor dpos;
  if (!consecutive) {
    dpos = scratch(DType::F32, {2 * T});  // storage for T int64 positions
    check_cuda(cudaMemcpyAsync(dpos.raw(), positions.data(), size_t(T) * sizeof(int64_t), cudaMemcpyHostToDevice,
                               nullptr),
               op);
  }
  Tensor work = scratch(DType::F32, {rglru_workspace_floats(T, C)});
  launch_rglru(out.data<float>(), x.data<float>(), gate_x_pre.data<float>(), gate_a_pre.data<float>(),
               recurrent_param.raw(), wdt(recurrent_param), consecutive ? nullptr : static_cast<const int64_t*>(dpos.raw()),
               positions[0], h.data<float>(), work.data<float>(), T, C, nullptr);
  check_launch(op);
}

void CudaBackend::check_rotary(const char* op, const Tensor& x, int heads, int head_dim, int rot_dims, float theta,
                               int64_t first_pos) {
  check_f32(op, "x", x, 2);
  HL_CHECK(heads > 0 && head_dim > 0, op, ": heads (", heads, ") and head_dim (", head_dim, ") must be positive");
  HL_CHECK(x.dim(1) == int64_t(heads) * head_dim, op, ": x ", x.describe(), " must be [T, ", heads, " * ", head_dim,
           "]");
  HL_CHECK(rot_dims >= 0 && rot_dims <= head_dim && rot_dims % 2 == 0, op, ": rot_dims ", rot_dims,
           " must be even and within [0, head_dim = ", head_dim, "]");
  HL_CHECK(theta > 0.0f && std::isfinite(theta), op, ": theta must be positive, got ", theta);
  HL_CHECK(first_pos >= 0, op, ": first_pos must be >= 0, got ", first_pos);
}

const float* CudaBackend::inv_freq(float theta, int rot_dims) {
  // inv_freq[i] = 1 / theta^(2i / rot_dims) in fp32 on the host, as the CPU backend forms it; uploaded once.
  Tensor& dfreq = inv_freq_[{theta, rot_dims}];
  if (!dfreq.defined()) {
    std::vector<float> f(size_t(rot_dims / 2));
    for (int i = 0; i < rot_dims / 2; ++i) f[size_t(i)] = 1.0f / std::pow(theta, float(2 * i) / float(rot_dims));
    dfreq = to_device(f, DType::F32);
  }
  return dfreq.data<float>();
}

void CudaBackend::rotary(Tensor& x, int heads, int head_dim, int rot_dims, float theta, int64_t first_pos) {
  constexpr const char* op = "rotary";
  const auto timed = profile_.time(op);
  check_rotary(op, x, heads, head_dim, rot_dims, theta, first_pos);
  if (x.dim(0) == 0 || rot_dims == 0) return;
  launch_rotary(x.data<float>(), nullptr, x.dim(0), heads, 0, head_dim, rot_dims, inv_freq(theta, rot_dims),
                first_pos, nullptr);
  check_launch(op);
}

void CudaBackend::rotary_qk(Tensor& q, int q_heads, Tensor& k, int k_heads, int head_dim, int rot_dims, float theta,
                            int64_t first_pos) {
  constexpr const char* op = "rotary";
  const auto timed = profile_.time(op);
  check_rotary(op, q, q_heads, head_dim, rot_dims, theta, first_pos);
  check_rotary(op, k, k_heads, head_dim, rot_dims, theta, first_pos);
  HL_CHECK(q.dim(0) == k.dim(0), op, ": q ", q.describe(), " and k ", k.describe(), " must have the same rows");
  HL_CHECK(!overlaps(q, k), op, ": q and k overlap");
  if (q.dim(0) == 0 || rot_dims == 0) return;
  launch_rotary(q.data<float>(), k.data<float>(), q.dim(0), q_heads, k_heads, head_dim, rot_dims,
                inv_freq(theta, rot_dims), first_pos, nullptr);
  check_launch(op);
}

void CudaBackend::selective_scan(Tensor& y, const Tensor& x, const Tensor& delta, const Tensor& A_log,
                                 const Tensor& B, const Tensor& C, const Tensor& D, Tensor& state) {
  const char* op = "selective_scan";
  const auto timed = profile_.time(op);
  checks::check_selective_scan_args(DeviceKind::CUDA, y, x, delta, A_log, B, C, D, state);
  const int64_t T = x.dim(0), Din = x.dim(1), N = A_log.dim(1);
  HL_CHECK(launch_selective_scan(y.data<float>(), x.data<float>(), delta.data<float>(), A_log.raw(), wdt(A_log),
                                 B.data<float>(), C.data<float>(), D.raw(), wdt(D), state.data<float>(), T, Din, N,
                                 nullptr),
           op, ": state size ", N, " is larger than the CUDA kernel supports (64)");
  check_launch(op);
}

void CudaBackend::gather_rows(Tensor& out, const Tensor& x, const std::vector<int32_t>& rows) {
  const char* op = "gather_rows";
  const auto timed = profile_.time(op);
  checks::check_gather_rows_args(DeviceKind::CUDA, out, x, rows);
  if (rows.empty()) return;
  RowList list{};
  Tensor drows;
  if (rows.size() <= size_t(kFewRows)) {
    std::copy(rows.begin(), rows.end(), list.few_rows);
  } else {
    drows = to_device(rows, DType::I32);
    list.rows = drows.data<int32_t>();
  }
  launch_gather_rows(out.data<float>(), x.data<float>(), list, int64_t(rows.size()), x.dim(1), nullptr);
  check_launch(op);
}

namespace {

// Whether no row repeats (an MoE layer's rows for one expert are ascending, so this is usually one pass).
bool distinct_rows(const std::vector<int32_t>& rows) {
  if (std::adjacent_find(rows.begin(), rows.end(), std::greater_equal<int32_t>()) == rows.end()) return true;
  std::vector<int32_t> sorted = rows;
  std::sort(sorted.begin(), sorted.end());
  return std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end();
}

}  // namespace

void CudaBackend::scatter_add_rows(Tensor& y, const Tensor& src, const std::vector<int32_t>& rows,
                                   const std::vector<float>& weights) {
  const char* op = "scatter_add_rows";
  const auto timed = profile_.time(op);
  checks::check_scatter_add_rows_args(DeviceKind::CUDA, y, src, rows, weights);
  if (rows.empty()) return;
  RowList list{};
  Tensor drows, dw;
  if (rows.size() <= size_t(kFewRows)) {
    std::copy(rows.begin(), rows.end(), list.few_rows);
    std::copy(weights.begin(), weights.end(), list.few_weights);
  } else {
    drows = to_device(rows, DType::I32);
    dw = to_device(weights, DType::F32);
    list.rows = drows.data<int32_t>();
    list.weights = dw.data<float>();
  }
  launch_scatter_add_rows(y.data<float>(), src.data<float>(), list, int64_t(rows.size()), y.dim(1), distinct_rows(rows),
                          nullptr);
  check_launch(op);
}

}  // namespace hl::cuda
