// Portable linear kernels for CPUs without AVX-512 (and for tests that force this path): weight rows are
// widened to fp32 a row (GEMV) or a panel (GEMM) at a time; the GEMM hands each fp32 panel to OpenBLAS
// sgemm, single-threaded inside, with our own threads splitting the panels.
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <mutex>

#include "hybridlens/backend/cpu/linear_kernels.hpp"
#include "hybridlens/backend/cpu/scratch.hpp"
#include "hybridlens/backend/cpu/weights.hpp"
#include "hybridlens/core/parallel.hpp"

namespace hl::cpu {
namespace {

__attribute__((target_clones("avx2,fma", "default"))) float dot_f32(const float* a, const float* b, int64_t n) {
  float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

// OpenBLAS runs single-threaded inside our parallel_for (its own pthreads pool would oversubscribe).
void openblas_single_thread_once() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

}  // namespace

void linear_gemv_portable(const LinearArgs& a) {
  const int64_t grain = std::max<int64_t>(4, 16384 / std::max<int64_t>(1, a.K));
  parallel_for(a.N, grain, [&](int64_t n0, int64_t n1) {
    float* row = thread_scratch(2, size_t(a.K));
    for (int64_t n = n0; n < n1; ++n) {
      weights_to_f32(row, a.w, a.wdt, n * a.K, a.K);
      const float b = a.bias ? a.bias[n] : 0.0f;
      for (int64_t t = 0; t < a.T; ++t) a.out[t * a.ldo + n] = dot_f32(a.x + t * a.ldx, row, a.K) + b;
    }
  });
}

void linear_gemm_portable(const LinearArgs& a) {
  openblas_single_thread_once();
  // Panel of output rows sized to keep its fp32 copy around 1 MB.
  const int64_t panel = std::clamp<int64_t>((int64_t(1) << 18) / std::max<int64_t>(1, a.K) / 16 * 16, 16, 256);
  const int64_t panels = (a.N + panel - 1) / panel;
  parallel_for(panels, 1, [&](int64_t p0, int64_t p1) {
    float* wf = thread_scratch(2, size_t(panel) * size_t(a.K));
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t n0 = p * panel;
      const int64_t nb = std::min(panel, a.N - n0);
      const float* wp;
      if (a.wdt == DType::F32) {
        wp = static_cast<const float*>(a.w) + n0 * a.K;
      } else {
        weights_to_f32(wf, a.w, a.wdt, n0 * a.K, nb * a.K);
        wp = wf;
      }
      float beta = 0.0f;
      if (a.bias) {
        for (int64_t t = 0; t < a.T; ++t) std::copy(a.bias + n0, a.bias + n0 + nb, a.out + t * a.ldo + n0);
        beta = 1.0f;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(a.T), int(nb), int(a.K), 1.0f, a.x, int(a.ldx), wp,
                  int(a.K), beta, a.out + n0, int(a.ldo));
    }
  });
}

}  // namespace hl::cpu
