#include "hybridlens/backend/cpu/ssm_ops.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "hybridlens/backend/cpu/checks.hpp"
#include "hybridlens/backend/cpu/scratch.hpp"
#include "hybridlens/backend/cpu/weights.hpp"
#include "hybridlens/core/parallel.hpp"

namespace hl::cpu {
namespace {

// Channels per block: one AVX-512 vector. The inner loops run over the channels of a block, so the scan
// vectorizes for any state size N.
constexpr int64_t kBlock = 16;

// exp(x) in fp32 without library calls, so that the channel loops vectorize: Cody-Waite range reduction
// and the Cephes polynomial (about 1 ulp over the range that matters). exp(x) for x < -87.3 is 0 (the
// library would return a subnormal or 0; the scan multiplies the state by it either way). The scan only
// calls it with x <= 0 (delta >= 0 after softplus, A < 0).
inline __attribute__((always_inline)) float exp_f32(float x) {
  const float xc = std::min(std::max(x, -87.3f), 88.0f);
  const float k = __builtin_floorf(xc * 1.44269504088896341f + 0.5f);
  const float r = (xc - k * 0.693359375f) + k * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (int32_t(k) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return x < -87.3f ? 0.0f : p * scale;
}

struct ScanArgs {
  const float* x;
  const float* delta;
  const float* B;
  const float* C;
  float* y;
  float* state;
  int64_t T, Din, N;
};

// One block of `w` <= kBlock channels starting at d0. a: [N][kBlock] = -exp(A_log) of the block (transposed),
// dv: [kBlock] = D; h: [N][kBlock] scratch for the state, transposed so the channel loop is contiguous.
__attribute__((target_clones("avx512f", "avx2,fma", "default")))
void scan_block(const ScanArgs& s, int64_t d0, int64_t w, const float* a, const float* dv, float* h) {
  const int64_t N = s.N, Din = s.Din;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < w; ++j) h[n * kBlock + j] = s.state[(d0 + j) * N + n];
  for (int64_t t = 0; t < s.T; ++t) {
    const float* xt = s.x + t * Din + d0;
    const float* dt = s.delta + t * Din + d0;
    const float* bt = s.B + t * N;
    const float* ct = s.C + t * N;
    float acc[kBlock] = {};
    for (int64_t n = 0; n < N; ++n) {
      const float b = bt[n], c = ct[n];
      float* hn = h + n * kBlock;
      const float* an = a + n * kBlock;
#pragma omp simd
      for (int64_t j = 0; j < w; ++j) {
        // As transformers: exp(A * dt) * h + (dt * B) * x; y = sum_n h * C + D * x.
        hn[j] = exp_f32(dt[j] * an[j]) * hn[j] + (dt[j] * b) * xt[j];
        acc[j] += hn[j] * c;
      }
    }
    float* yt = s.y + t * Din + d0;
#pragma omp simd
    for (int64_t j = 0; j < w; ++j) yt[j] = acc[j] + dv[j] * xt[j];
  }
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < w; ++j) s.state[(d0 + j) * N + n] = h[n * kBlock + j];
}

void check_args(const Tensor& y, const Tensor& x, const Tensor& delta, const Tensor& A_log, const Tensor& B,
                const Tensor& C, const Tensor& D, const Tensor& state) {
  const char* op = "selective_scan";
  check_f32(op, "x", x, 2);
  check_f32(op, "delta", delta, 2);
  check_f32(op, "y", y, 2);
  check_f32(op, "B", B, 2);
  check_f32(op, "C", C, 2);
  check_f32(op, "state", state, 2);
  check_weight(op, "A_log", A_log, 2);
  check_defined(op, "D", D);
  const int64_t T = x.dim(0), Din = x.dim(1), N = A_log.dim(1);
  check_same_shape(op, "x", x, "delta", delta);
  check_same_shape(op, "x", x, "y", y);
  HL_CHECK(A_log.dim(0) == Din, op, ": A_log ", A_log.describe(), " does not match x ", x.describe(),
           " (expected [", Din, ", N])");
  HL_CHECK(B.dim(0) == T && B.dim(1) == N, op, ": B ", B.describe(), " expected F32[", T, ", ", N, "]");
  check_same_shape(op, "B", B, "C", C);
  HL_CHECK(D.numel() == Din && (D.dtype() == DType::F32 || D.dtype() == DType::BF16 || D.dtype() == DType::F16),
           op, ": D ", D.describe(), " expected [", Din, "] F32, BF16 or F16");
  HL_CHECK(state.dim(0) == Din && state.dim(1) == N, op, ": state ", state.describe(), " expected F32[", Din,
           ", ", N, "]");
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"x", &x}, {"delta", &delta}, {"B", &B},
                                {"C", &C}, {"state", &state}})
    check_no_alias(op, "y", y, name, *t);
  check_no_alias(op, "state", state, "x", x);
  check_no_alias(op, "state", state, "delta", delta);
}

}  // namespace

void selective_scan(Tensor& y, const Tensor& x, const Tensor& delta, const Tensor& A_log, const Tensor& B,
                    const Tensor& C, const Tensor& D, Tensor& state) {
  check_args(y, x, delta, A_log, B, C, D, state);
  const ScanArgs s{x.data<float>(), delta.data<float>(), B.data<float>(), C.data<float>(), y.data<float>(),
                   state.data<float>(), x.dim(0), x.dim(1), A_log.dim(1)};
  if (s.T == 0 || s.Din == 0) return;
  const int64_t blocks = (s.Din + kBlock - 1) / kBlock;
  // Enough blocks per task that a task is worth a thread: about 64k state updates.
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, s.T * s.N * kBlock));
  parallel_for(blocks, grain, [&](int64_t b0, int64_t b1) {
    float* a = thread_scratch(0, size_t(s.N * kBlock));
    float* h = thread_scratch(1, size_t(s.N * kBlock));
    float* row = thread_scratch(2, size_t(s.N * kBlock + kBlock));
    float dv[kBlock];
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t d0 = b * kBlock, w = std::min(kBlock, s.Din - d0);
      weights_to_f32(row, A_log.raw(), A_log.dtype(), d0 * s.N, w * s.N);
      for (int64_t j = 0; j < w; ++j)
        for (int64_t n = 0; n < s.N; ++n) a[n * kBlock + j] = -std::exp(row[j * s.N + n]);
      weights_to_f32(dv, D.raw(), D.dtype(), d0, w);
      scan_block(s, d0, w, a, dv, h);
    }
  });
}

}  // namespace hl::cpu
