// Attention for many queries (prefill) as matrix products. The keys and values a call needs are first
// made contiguous (the ring cache holds the earlier ones); then, per block of queries: scores S = scale Q K^T
// for every head (one strided-batched SGEMM per key/value head, the group's query heads sharing its keys),
// statistics per score row, head selection, rows turned into the manipulated weights W, and out = W V (one
// more SGEMM per key/value head). fp32 SGEMM in the precise mode, three TF32 passes otherwise (about as exact;
// the statistics the lens records come from S). The score
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

  // The default mode multiplies in three TF32 passes (split_tf32 in kernels.hpp), which is as exact as fp32
  // for these products and several times faster than SGEMM; the precise mode keeps fp32 SGEMM.
  const bool tf32x3 = !precise_;
  Tensor q3, k3, v_hi, v_lo;
  if (tf32x3) {
    q3 = scratch(DType::F32, {a.T, H * 3 * D});
    k3 = key_buffer(3 * row);
    v_hi = key_buffer(row);
    v_lo = key_buffer(row);
    launch_split_tf32(q3.data<float>(), a.q, a.T * H, a.D, false, nullptr);
    launch_split_tf32(k3.data<float>(), kc.data<float>(), keys * a.KVH, a.D, true, nullptr);
    launch_split_tf32_pair(v_hi.data<float>(), v_lo.data<float>(), vc.data<float>(), keys * row, nullptr);
    check_launch(op);
  }

  // Queries per block: as many as keep H x Tb x (earlier keys + Tb) scores (twice that with the weights'
  // second TF32 part) within kScoreBytes.
  const int64_t earlier = a.window > 0 ? std::min<int64_t>(a.window - 1, keys) : keys;
  const int64_t score_size = int64_t(sizeof(float)) * (tf32x3 ? 2 : 1);
  auto padded = [](int64_t n) { return (n + kKeyPad - 1) / kKeyPad * kKeyPad; };
  auto score_bytes = [&](int64_t tb) { return H * tb * padded(std::min(earlier + tb, keys)) * score_size; };
  int64_t tb = std::min(a.T, kMaxBlockQueries);
  while (tb > kMinBlockQueries && score_bytes(tb) > kScoreBytes) tb = (tb + 1) / 2;
  const int64_t block_floats = score_bytes(tb) / score_size;
  Tensor scores = scratch(DType::F32, {block_floats});
  Tensor small = tf32x3 ? scratch(DType::F32, {block_floats}) : Tensor();

  const float zero = 0.0f, one = 1.0f;
  const cublasComputeType_t fast = CUBLAS_COMPUTE_32F_FAST_TF32;
  for (int64_t t0 = 0; t0 < a.T; t0 += tb) {
    RowBlock b{};
    b.s = scores.data<float>();
    b.small = tf32x3 ? small.data<float>() : nullptr;
    b.t0 = t0;
    b.Tb = std::min(tb, a.T - t0);
    b.key0 = first_key(a.window, a.first_pos + t0);
    b.Kn = a.first_pos + t0 + b.Tb - b.key0;
    b.ld = padded(b.Kn);
    const int64_t k_off = (b.key0 - key_lo) * row;
    const long long per_head = (long long)(b.Tb * b.ld);
    // Column-major views: S_h^T [Kn, Tb] = K_g [Kn, D] (stored as D x Kn, transposed) * Q_h^T [D, Tb]
    // (over 3 D in the TF32 passes).
    for (int64_t g = 0; g < a.KVH; ++g) {
      float* s_g = b.s + g * G * per_head;
      if (tf32x3)
        check_cublas(cublasGemmStridedBatchedEx(
                         blas_, CUBLAS_OP_T, CUBLAS_OP_N, int(b.ld), int(b.Tb), int(3 * D), &a.scale,
                         k3.data<float>() + 3 * (k_off + g * D), CUDA_R_32F, int(3 * row), 0,
                         q3.data<float>() + 3 * (t0 * H + g * G) * D, CUDA_R_32F, int(3 * H * D), 3 * D, &zero, s_g,
                         CUDA_R_32F, int(b.ld), per_head, int(G), fast, CUBLAS_GEMM_DEFAULT),
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
    // out_h^T [D, Tb] = V_g^T [D, Kn] (stored as D x Kn) * W_h^T [Kn, Tb]; in the TF32 passes
    // V_hi W_hi + V_lo W_hi + V_hi W_lo.
    for (int64_t g = 0; g < a.KVH; ++g) {
      float* out_g = a.out + t0 * H * D + g * G * D;
      const int64_t w_off = g * G * per_head;
      if (!tf32x3) {
        check_cublas(cublasSgemmStridedBatched(blas_, CUBLAS_OP_N, CUBLAS_OP_N, a.D, int(b.Tb), int(b.ld), &one,
                                               vc.data<float>() + k_off + g * D, int(row), 0, b.s + w_off, int(b.ld),
                                               per_head, &zero, out_g, int(H * D), D, int(G)),
                     op);
        continue;
      }
      const float* v_of[3] = {v_hi.data<float>(), v_lo.data<float>(), v_hi.data<float>()};
      const float* w_of[3] = {b.s, b.s, b.small};
      for (int pass = 0; pass < 3; ++pass)
        check_cublas(cublasGemmStridedBatchedEx(blas_, CUBLAS_OP_N, CUBLAS_OP_N, a.D, int(b.Tb), int(b.ld), &one,
                                                v_of[pass] + k_off + g * D, CUDA_R_32F, int(row), 0,
                                                w_of[pass] + w_off, CUDA_R_32F, int(b.ld), per_head,
                                                pass == 0 ? &zero : &one, out_g, CUDA_R_32F, int(H * D), D, int(G),
                                                fast, CUBLAS_GEMM_DEFAULT),
                     op);
    }
  }
}

}  // namespace hl::cuda
