#pragma once
// Small vector kernels shared by the CPU operations, compiled for AVX-512 and AVX2 with a portable
// fallback, chosen once at load time.
#include <cstdint>

namespace hl::cpu {

float dot(const float* a, const float* b, int64_t n);
// y += alpha * x
void axpy(float alpha, const float* x, float* y, int64_t n);

}  // namespace hl::cpu
