#include "hybridlens/backend/cuda/lt_gemm.hpp"

#include <cuda_runtime.h>

#include <utility>

#include "hybridlens/backend/cuda/cuda_check.hpp"

namespace hl::cuda {
namespace {

constexpr size_t kWorkspaceBytes = size_t(32) << 20;  // what cuBLAS recommends for Hopper

void check_lt(cublasStatus_t s, const char* what) { check_cublas(s, what); }

// The largest power of two (up to 256) that divides the address: cuBLASLt picks kernels by alignment.
int alignment_of(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  int al = 1;
  while (al < 256 && a % uintptr_t(al * 2) == 0) al *= 2;
  return al;
}

// The descriptors of one call, destroyed with it.
struct Descs {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  ~Descs() {
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (op) cublasLtMatmulDescDestroy(op);
  }
};

}  // namespace

LtGemm::~LtGemm() {
  if (workspace_) cudaFree(workspace_);
  if (handle_) cublasLtDestroy(handle_);
}

bool LtGemm::run(float* out, int64_t ldo, const void* xb, const void* w, const float* bias, int64_t T, int64_t K,
                 int64_t N) {
  return matmul(out, xb, w, bias, Shape{T, K, N, ldo, K, K, true});
}

bool LtGemm::run_block_diag(float* out, const void* xb, const void* w, const float* bias, int64_t T, int64_t blocks,
                            int64_t bw) {
  Shape s{T, bw, bw, blocks * bw, blocks * bw, bw, false};
  s.batches = blocks;
  s.stride_out = s.stride_x = s.stride_bias = bw;
  s.stride_w = bw * bw;
  return matmul(out, xb, w, bias, s);
}

bool LtGemm::matmul(float* out, const void* xb, const void* w, const float* bias, const Shape& sh) {
  const char* what = "linear (cuBLASLt)";
  if (!handle_) {
    check_lt(cublasLtCreate(&handle_), what);
    check_cuda(cudaMalloc(&workspace_, kWorkspaceBytes), "linear: cuBLASLt workspace");
  }
  // Column-major view, as in CudaBackend::gemm: out^T [N, T] = W [N, K] (stored as col-major K x N,
  // transposed; or as col-major N x K) * x^T [K, T]; the bias runs along out^T's rows.
  Descs d;
  check_lt(cublasLtMatmulDescCreate(&d.op, CUBLAS_COMPUTE_32F, CUDA_R_32F), what);
  const cublasOperation_t ta = sh.w_transposed ? CUBLAS_OP_T : CUBLAS_OP_N, tb = CUBLAS_OP_N;
  check_lt(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)), what);
  check_lt(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)), what);
  if (bias) {
    const cublasLtEpilogue_t ep = CUBLASLT_EPILOGUE_BIAS;
    check_lt(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &ep, sizeof(ep)), what);
    check_lt(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)), what);
    if (sh.batches > 1)
      check_lt(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE, &sh.stride_bias,
                                              sizeof(sh.stride_bias)),
               what);
  }
  if (sh.w_transposed)
    check_lt(cublasLtMatrixLayoutCreate(&d.a, CUDA_R_16BF, uint64_t(sh.K), uint64_t(sh.N), sh.ldw), what);
  else
    check_lt(cublasLtMatrixLayoutCreate(&d.a, CUDA_R_16BF, uint64_t(sh.N), uint64_t(sh.K), sh.ldw), what);
  check_lt(cublasLtMatrixLayoutCreate(&d.b, CUDA_R_16BF, uint64_t(sh.K), uint64_t(sh.T), sh.ldx), what);
  check_lt(cublasLtMatrixLayoutCreate(&d.c, CUDA_R_32F, uint64_t(sh.N), uint64_t(sh.T), sh.ldo), what);
  if (sh.batches > 1) {
    const int32_t n = int32_t(sh.batches);
    const std::pair<cublasLtMatrixLayout_t, int64_t> strided[] = {{d.a, sh.stride_w}, {d.b, sh.stride_x},
                                                                  {d.c, sh.stride_out}};
    for (const auto& [layout, stride] : strided) {
      check_lt(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &n, sizeof(n)), what);
      check_lt(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride,
                                                sizeof(stride)),
               what);
    }
  }
  const int64_t T = sh.T, K = sh.K, N = sh.N, ldo = sh.ldo;
  const int al_out = alignment_of(out), al_x = alignment_of(xb), al_w = alignment_of(w);
  const Key key{T, K, N, ldo, sh.batches, bias != nullptr, al_out, al_x, al_w, bias ? alignment_of(bias) : 0};
  auto it = algos_.find(key);
  if (it == algos_.end()) {
    cublasLtMatmulPreference_t pref = nullptr;
    check_lt(cublasLtMatmulPreferenceCreate(&pref), what);
    const uint64_t ws = kWorkspaceBytes;
    const uint32_t al_c = uint32_t(al_out), al_b = uint32_t(al_x), al_a = uint32_t(al_w);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a, sizeof(al_a));
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b, sizeof(al_b));
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_c, sizeof(al_c));
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_c, sizeof(al_c));
    cublasLtMatmulHeuristicResult_t result{};
    int count = 0;
    const cublasStatus_t s =
        cublasLtMatmulAlgoGetHeuristic(handle_, d.op, d.a, d.b, d.c, d.c, pref, 1, &result, &count);
    cublasLtMatmulPreferenceDestroy(pref);
    Choice c;
    c.found = s == CUBLAS_STATUS_SUCCESS && count > 0;
    if (c.found) c.algo = result.algo;
    it = algos_.emplace(key, c).first;
  }
  if (!it->second.found) return false;
  const float one = 1.0f, zero = 0.0f;
  check_lt(cublasLtMatmul(handle_, d.op, &one, w, d.a, xb, d.b, &zero, out, d.c, out, d.c, &it->second.algo,
                          workspace_, kWorkspaceBytes, nullptr),
           what);
  return true;
}

}  // namespace hl::cuda
