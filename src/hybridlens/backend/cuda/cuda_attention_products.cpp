// Attention for many queries (prefill) as matrix products. The keys and values a call needs are first
// made contiguous (the ring cache holds the earlier ones); then, per block of queries: scores S = scale Q K^T
// for every head (one strided-batched SGEMM per key/value head, the group's query heads sharing its keys),
// statistics per score row, head selection, rows turned into the manipulated weights W, and out = W V (one
// more SGEMM per key/value head). fp32 throughout (the statistics the lens records come from S). The score
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
  const int64_t row = int64_t(a.KVH) * a.D, H = a.H, G = a.H / a.KVH;
  const int64_t key_lo = first_key(a.window, a.first_pos);
  const int64_t keys = a.first_pos + a.T - key_lo;
  Tensor kc = scratch(DType::F32, {keys, row}), vc = scratch(DType::F32, {keys, row});
  launch_gather_keys(kc.data<float>(), vc.data<float>(), a, key_lo, keys, nullptr);
  check_launch(op);

  // Queries per block: as many as keep H x Tb x (earlier keys + Tb) scores within kScoreBytes.
  const int64_t earlier = a.window > 0 ? std::min<int64_t>(a.window - 1, keys) : keys;
  auto score_bytes = [&](int64_t tb) { return H * tb * std::min(earlier + tb, keys) * int64_t(sizeof(float)); };
  int64_t tb = std::min(a.T, kMaxBlockQueries);
  while (tb > kMinBlockQueries && score_bytes(tb) > kScoreBytes) tb = (tb + 1) / 2;
  Tensor scores = scratch(DType::F32, {score_bytes(tb) / int64_t(sizeof(float))});

  const float zero = 0.0f, one = 1.0f;
  for (int64_t t0 = 0; t0 < a.T; t0 += tb) {
    RowBlock b{};
    b.s = scores.data<float>();
    b.t0 = t0;
    b.Tb = std::min(tb, a.T - t0);
    b.key0 = first_key(a.window, a.first_pos + t0);
    b.Kn = a.first_pos + t0 + b.Tb - b.key0;
    const float* kb = kc.data<float>() + (b.key0 - key_lo) * row;
    const float* vb = vc.data<float>() + (b.key0 - key_lo) * row;
    const long long per_head = (long long)(b.Tb * b.Kn);
    // Column-major views: S_h^T [Kn, Tb] = K_g [Kn, D] (stored as D x Kn, transposed) * Q_h^T [D, Tb].
    for (int64_t g = 0; g < a.KVH; ++g)
      check_cublas(cublasSgemmStridedBatched(blas_, CUBLAS_OP_T, CUBLAS_OP_N, int(b.Kn), int(b.Tb), a.D, &a.scale,
                                             kb + g * a.D, int(row), 0, a.q + t0 * H * a.D + g * G * a.D,
                                             int(H * a.D), a.D, &zero, b.s + g * G * per_head, int(b.Kn), per_head,
                                             int(G)),
                   op);
    launch_row_stats(a, st, b, nullptr);
    check_launch(op);
    launch_head_select(a, st, sel, t0, t0 + b.Tb, nullptr);
    check_launch(op);
    launch_row_weights(a, st, b, sel.keep, manipulation, binary_layer_mean, nullptr);
    check_launch(op);
    // out_h^T [D, Tb] = V_g^T [D, Kn] (stored as D x Kn) * W_h^T [Kn, Tb].
    for (int64_t g = 0; g < a.KVH; ++g)
      check_cublas(cublasSgemmStridedBatched(blas_, CUBLAS_OP_N, CUBLAS_OP_N, a.D, int(b.Tb), int(b.Kn), &one,
                                             vb + g * a.D, int(row), 0, b.s + g * G * per_head, int(b.Kn), per_head,
                                             &zero, a.out + t0 * H * a.D + g * G * a.D, int(H * a.D), a.D, int(G)),
                   op);
  }
}

}  // namespace hl::cuda
