// Attention for many queries (prefill) as matrix products. The keys and values a call needs are first
// made contiguous (the ring cache holds the earlier ones); then, per block of queries: scores S = scale Q K^T
// for every head (one strided-batched SGEMM per key/value head, the group's query heads sharing its keys),
// statistics per score row, head selection, rows turned into the manipulated weights W, and out = W V (one
// more product per key/value head). fp32 SGEMM in the precise mode, three fp16 passes otherwise (attention_fp16.cu:
// about as exact; the statistics the lens records come from S). The score
// matrix of a block is bounded by kScoreBytes, which fixes how many queries a block takes; it holds the
// block's whole key range, so the keys outside a query's window or after it are formed and then weighted 0.
#include <algorithm>

#include "hybridlens/backend/cuda/cuda_backend.hpp"
#include "hybridlens/backend/cuda/cuda_check.hpp"
#include "hybridlens/backend/cuda/kernels.hpp"

namespace hl::cuda {
namespace {

constexpr int64_t kScoreBytes = int64_t(512) << 20;
constexpr int64_t kMaxBlockQueries = 1024;
constexpr int64_t kMinBlockQueries = 16;
constexpr int64_t kKeyPad = 32;

// First key position any query of the block starting at absolute position `pos` sees.
int64_t first_key(int64_t window, int64_t pos) { return window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0; }

}  // namespace

void CudaBackend::attention_products(const AttnArgs& args, const AttnStats& st, const SelectArgs& sel,
                                     int manipulation, bool binary_layer_mean) {
  const char* op = "attention";
  AttnArgs a = args;
  a.splits = 1;
  a.chunk = 0;
  a.workspace = nullptr;
  const int64_t row = int64_t(a.KVH) * a.D, H = a.H, G = a.H / a.KVH, D = a.D;
  const int64_t key_lo = first_key(a.window, a.first_pos);
  const int64_t keys = a.first_pos + a.T - key_lo;
  // The products run over each block's key count rounded up to kKeyPad (cuBLAS takes its fast kernels only
  // for aligned sizes), so the key buffers end in kKeyPad zero rows, weighted 0.
  const int64_t key_rows = keys + kKeyPad;
  auto key_buffer = [&](int64_t width) {
    Tensor t = scratch(DType::F32, {key_rows, width});
    check_cuda(cudaMemsetAsync(t.data<float>() + keys * width, 0, size_t(kKeyPad * width) * sizeof(float), nullptr),
               op);
    return t;
  };
  Tensor kc = key_buffer(row), vc = key_buffer(row);
  launch_gather_keys(kc.data<float>(), vc.data<float>(), a, key_lo, keys, nullptr);
  check_launch(op);

  // The default mode multiplies in three fp16 passes (launch_split_fp16 in kernels.hpp), which is about as
  // exact as fp32 for these products and several times faster than SGEMM; the precise mode keeps fp32 SGEMM.
  const bool fp16x3 = !precise_;
  Tensor q3, k3, v3, consts;
  if (fp16x3) {
    // consts: the operands' largest magnitudes (as bits) at 0..2, the products' alpha / beta at 4..6
    consts = scratch(DType::F32, {8});
    check_cuda(cudaMemsetAsync(consts.raw(), 0, 8 * sizeof(float), nullptr), op);
    unsigned* bits = static_cast<unsigned*>(consts.raw());
    q3 = scratch(DType::F16, {a.T * H, 3 * D});
    k3 = scratch(DType::F16, {key_rows, 3 * row});
    v3 = scratch(DType::F16, {3 * key_rows, row});
    launch_absmax3(bits, a.q, a.T * H * D, kc.data<float>(), keys * row, vc.data<float>(), keys * row, nullptr);
    launch_split_fp16(static_cast<uint16_t*>(q3.raw()), a.q, a.T * H, a.D, false, bits, 0,
                      Fp16Factors{consts.data<float>() + 4, a.scale}, nullptr);
    launch_split_fp16(static_cast<uint16_t*>(k3.raw()), kc.data<float>(), key_rows * a.KVH, a.D, true, bits, 1,
                      Fp16Factors{}, nullptr);
    launch_split_fp16_rows(static_cast<uint16_t*>(v3.raw()), vc.data<float>(), key_rows, row, bits, 2, nullptr);
    check_launch(op);
  }
  // Queries per block: as many as keep H x Tb x (earlier keys + Tb) scores (and, in fp16 passes, the weights'
  // three halves) within kScoreBytes.
  const int64_t earlier = a.window > 0 ? std::min<int64_t>(a.window - 1, keys) : keys;
  const int64_t score_size = int64_t(sizeof(float)) + (fp16x3 ? 3 * 2 : 0);
  auto padded = [](int64_t n) { return (n + kKeyPad - 1) / kKeyPad * kKeyPad; };
  auto score_bytes = [&](int64_t tb) { return H * tb * padded(std::min(earlier + tb, keys)) * score_size; };
  int64_t tb = std::min(a.T, kMaxBlockQueries);
  while (tb > kMinBlockQueries && score_bytes(tb) > kScoreBytes) tb = (tb + 1) / 2;
  const int64_t block_floats = score_bytes(tb) / score_size;
  Tensor scores = scratch(DType::F32, {block_floats});
  Tensor w3 = fp16x3 ? scratch(DType::F16, {3 * block_floats}) : Tensor();
  const float* alpha_s = fp16x3 ? consts.data<float>() + 4 : nullptr;
  const float* alpha_o = fp16x3 ? consts.data<float>() + 5 : nullptr;
  const float* beta0 = fp16x3 ? consts.data<float>() + 6 : nullptr;
  // the fp16 products take their alphas from the device (the scales are not known on the host)
  struct DevicePointers {
    cublasHandle_t h;
    bool on;
    DevicePointers(cublasHandle_t h_, bool on_) : h(h_), on(on_) {
      if (on) check_cublas(cublasSetPointerMode(h, CUBLAS_POINTER_MODE_DEVICE), "attention");
    }
    ~DevicePointers() {
      if (on) cublasSetPointerMode(h, CUBLAS_POINTER_MODE_HOST);
    }
  } device_pointers(blas_, fp16x3);

  const float zero = 0.0f, one = 1.0f;
  for (int64_t t0 = 0; t0 < a.T; t0 += tb) {
    RowBlock b{};
    b.s = scores.data<float>();
    b.w3 = fp16x3 ? static_cast<uint16_t*>(w3.raw()) : nullptr;
    b.t0 = t0;
    b.Tb = std::min(tb, a.T - t0);
    b.key0 = first_key(a.window, a.first_pos + t0);
    b.Kn = a.first_pos + t0 + b.Tb - b.key0;
    b.ld = padded(b.Kn);
    const int64_t k_off = (b.key0 - key_lo) * row;
    const long long per_head = (long long)(b.Tb * b.ld);
    // Column-major views: S_h^T [Kn, Tb] = K_g [Kn, D] (stored as D x Kn, transposed) * Q_h^T [D, Tb]
    // (over 3 D in the fp16 passes).
    for (int64_t g = 0; g < a.KVH; ++g) {
      float* s_g = b.s + g * G * per_head;
      if (fp16x3)
        check_cublas(cublasGemmStridedBatchedEx(
                         blas_, CUBLAS_OP_T, CUBLAS_OP_N, int(b.ld), int(b.Tb), int(3 * D), alpha_s,
                         static_cast<const uint16_t*>(k3.raw()) + 3 * (k_off + g * D), CUDA_R_16F, int(3 * row), 0,
                         static_cast<const uint16_t*>(q3.raw()) + 3 * (t0 * H + g * G) * D, CUDA_R_16F,
                         int(3 * H * D), 3 * D, beta0, s_g, CUDA_R_32F, int(b.ld), per_head, int(G),
                         CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                     op);
      else
        check_cublas(cublasSgemmStridedBatched(blas_, CUBLAS_OP_T, CUBLAS_OP_N, int(b.ld), int(b.Tb), a.D, &a.scale,
                                               kc.data<float>() + k_off + g * D, int(row), 0,
                                               a.q + t0 * H * D + g * G * D, int(H * D), D, &zero, s_g, int(b.ld),
                                               per_head, int(G)),
                     op);
    }
    launch_row_stats(a, st, b, nullptr);
    check_launch(op);
    launch_head_select(a, st, sel, t0, t0 + b.Tb, nullptr);
    check_launch(op);
    launch_row_weights(a, st, b, sel.keep, manipulation, binary_layer_mean, nullptr);
    check_launch(op);
    // out_h^T [D, Tb] = V_g^T [D, Kn] (stored as D x Kn) * W_h^T [Kn, Tb]; in the fp16 passes one product
    // over 3 Kn: key j's weights [hi, lo, hi] against its values' rows [hi, hi, lo].
    for (int64_t g = 0; g < a.KVH; ++g) {
      float* out_g = a.out + t0 * H * D + g * G * D;
      const int64_t w_off = g * G * per_head;
      if (fp16x3) {
        check_cublas(cublasGemmStridedBatchedEx(
                         blas_, CUBLAS_OP_N, CUBLAS_OP_N, a.D, int(b.Tb), int(3 * b.ld), alpha_o,
                         static_cast<const uint16_t*>(v3.raw()) + 3 * k_off + g * D, CUDA_R_16F, int(row), 0,
                         static_cast<const uint16_t*>(w3.raw()) + 3 * w_off, CUDA_R_16F, int(3 * b.ld),
                         3 * per_head, beta0, out_g, CUDA_R_32F, int(H * D), D, int(G), CUBLAS_COMPUTE_32F,
                         CUBLAS_GEMM_DEFAULT),
                     op);
        continue;
      }
      check_cublas(cublasSgemmStridedBatched(blas_, CUBLAS_OP_N, CUBLAS_OP_N, a.D, int(b.Tb), int(b.ld), &one,
                                               vc.data<float>() + k_off + g * D, int(row), 0, b.s + w_off, int(b.ld),
                                               per_head, &zero, out_g, int(H * D), D, int(G)),
                   op);
    }
  }
}

}  // namespace hl::cuda
