#include "hybridlens/backend/cpu/vector_ops.hpp"

namespace hl::cpu {

__attribute__((target_clones("avx512f", "avx2,fma", "default")))
float dot(const float* a, const float* b, int64_t n) {
  float acc = 0;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

__attribute__((target_clones("avx512f", "avx2,fma", "default")))
void axpy(float alpha, const float* x, float* y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

}  // namespace hl::cpu
