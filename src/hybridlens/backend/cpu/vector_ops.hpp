#pragma once
// Small vector kernels shared by the CPU operations, compiled for AVX-512 and AVX2 with a portable
// fallback, chosen once at load time.
#include <cstdint>

namespace hl::cpu {

float dot(const float* a, const float* b, int64_t n);
// y += alpha * x
void axpy(float alpha, const float* x, float* y, int64_t n);

// s[j] = scale * q . rows[j * stride .. + D] for j < n; returns max(running_max, max_j s[j]).
float scaled_dots(const float* q, const float* rows, int64_t stride, int64_t n, int64_t D, float scale, float* s,
                  float running_max);
// s[j] = exp(s[j] - m) in place; adds sum_j e_j to *z and sum_j e_j (s_j - m) to *es.
void exp_shifted(float* s, int64_t n, float m, double* z, double* es);
// acc[d] += sum_j p[j] * rows[j * stride + d], d < D.
void weighted_rows(const float* p, const float* rows, int64_t stride, int64_t n, int64_t D, float* acc);

}  // namespace hl::cpu
