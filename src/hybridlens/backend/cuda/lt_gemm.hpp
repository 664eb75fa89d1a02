#pragma once
// bf16 x bf16 -> fp32 products through cuBLASLt with the bias added in the product's epilogue. cuBLAS's
// GemmEx can only add a bias through C (beta = 1), which costs a pass that writes the bias into every row
// and the product reading it back: about 8% of a 2B-shape prefill.
#include <cublasLt.h>

#include <cstdint>
#include <map>
#include <tuple>

namespace hl::cuda {

class LtGemm {
 public:
  LtGemm() = default;
  ~LtGemm();
  LtGemm(const LtGemm&) = delete;
  LtGemm& operator=(const LtGemm&) = delete;

  // out[T, N] (row stride ldo) = xb[T, K] (bf16, contiguous) @ w[N, K]^T (bf16) + bias[N] (fp32; null: none),
  // fp32 accumulation, queued on the legacy default stream. Returns false, queuing nothing, when cuBLASLt
  // offers no algorithm for this shape and these alignments (the caller then takes another path).
  bool run(float* out, int64_t ldo, const void* xb, const void* w, const float* bias, int64_t T, int64_t K, int64_t N);

  // The block-diagonal product: for each of `blocks` blocks h, out[:, h bw .. (h + 1) bw) = xb[:, h bw ..
  // (h + 1) bw) @ w[h] + bias[h bw ..] with w[h] [bw in, bw out] row-major; xb [T, blocks bw] bf16, out
  // [T, blocks bw] fp32. One batched call; false as run.
  bool run_block_diag(float* out, const void* xb, const void* w, const float* bias, int64_t T, int64_t blocks,
                      int64_t bw);

 private:
  // One product (or `batches` of them, each operand a stride further on): out^T [N, T] = op(W) [N, K] x^T [K, T]
  // + bias, column-major, where op(W) is W [N, K] row-major (transposed) or W [K, N] row-major as it is.
  struct Shape {
    int64_t T, K, N, ldo, ldx, ldw;
    bool w_transposed;
    int64_t batches = 1, stride_out = 0, stride_x = 0, stride_w = 0, stride_bias = 0;
  };
  bool matmul(float* out, const void* xb, const void* w, const float* bias, const Shape& s);

  // shape, ldo, batch count (1: a single product), bias or not, and the alignments of out, xb, w, bias (an
  // algorithm depends on all of them)
  using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, bool, int, int, int, int>;
  struct Choice {
    bool found = false;
    cublasLtMatmulAlgo_t algo{};
  };
  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  std::map<Key, Choice> algos_;
};

}  // namespace hl::cuda
