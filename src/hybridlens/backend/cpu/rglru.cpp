// rglru_scan: the RG-LRU recurrence of RecurrentGemma (see backend.hpp for the formula), fp32 state.
// Channels are independent, so threads split the channels; each walks the whole sequence.
#include <algorithm>
#include <cmath>
#include <vector>

#include "hybridlens/backend/cpu/isa.hpp"
#include "hybridlens/backend/cpu/vec_math_avx2.hpp"
#include "hybridlens/backend/cpu/vec_math_avx512.hpp"
#include "hybridlens/backend/cpu/ops.hpp"
#include "hybridlens/backend/cpu/scalar_math.hpp"
#include "hybridlens/backend/cpu/weights.hpp"
#include "hybridlens/backend/op_checks.hpp"
#include "hybridlens/core/parallel.hpp"

namespace hl::cpu {
namespace {

struct ScanArgs {
  const float *x, *gxp, *gap, *sp;
  const std::vector<int64_t>* positions;
  float *out, *h;
  int64_t T, C;
};

// Channels [c0, c1), all T steps, 16 channels a vector (same formula and order as the scalar loop).
HL_AVX512 void scan_avx512(const ScanArgs& s, int64_t c0, int64_t c1) {
  for (int64_t t = 0; t < s.T; ++t) {
    const bool reset = (*s.positions)[size_t(t)] == 0;
    const int64_t row = t * s.C;
    for (int64_t c = c0; c < c1; c += 16) {
      const __mmask16 m = avx512::tail_mask(c1 - c);
      const __m512 gx = avx512::sigmoid_ps(_mm512_maskz_loadu_ps(m, s.gxp + row + c));
      const __m512 ga = avx512::sigmoid_ps(_mm512_maskz_loadu_ps(m, s.gap + row + c));
      const __m512 log_a = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(-8.0f), ga), _mm512_maskz_loadu_ps(m, s.sp + c));
      const __m512 xg = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, s.x + row + c), gx);
      __m512 hn;
      if (reset) {
        hn = xg;  // mult = 1, h reset to 0
      } else {
        const __m512 a = avx512::exp_ps(log_a);
        const __m512 neg = avx512::expm1_ps(_mm512_add_ps(log_a, log_a));  // exp(2 log_a) - 1 <= 0
        const __m512 mult = _mm512_sqrt_ps(_mm512_sub_ps(_mm512_setzero_ps(), neg));
        const __m512 normalized = _mm512_mul_ps(xg, mult);
        hn = _mm512_add_ps(_mm512_mul_ps(a, _mm512_maskz_loadu_ps(m, s.h + c)), normalized);
      }
      _mm512_mask_storeu_ps(s.h + c, m, hn);
      _mm512_mask_storeu_ps(s.out + row + c, m, hn);
    }
  }
}

// The same with 8 channels a vector (AVX2 + FMA).
HL_AVX2 void scan_avx2(const ScanArgs& s, int64_t c0, int64_t c1) {
  for (int64_t t = 0; t < s.T; ++t) {
    const bool reset = (*s.positions)[size_t(t)] == 0;
    const int64_t row = t * s.C;
    for (int64_t c = c0; c < c1; c += 8) {
      const __m256i m = avx2::tail_mask(c1 - c);
      const __m256 gx = avx2::sigmoid_ps(_mm256_maskload_ps(s.gxp + row + c, m));
      const __m256 ga = avx2::sigmoid_ps(_mm256_maskload_ps(s.gap + row + c, m));
      const __m256 log_a = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(-8.0f), ga), _mm256_maskload_ps(s.sp + c, m));
      const __m256 xg = _mm256_mul_ps(_mm256_maskload_ps(s.x + row + c, m), gx);
      __m256 hn;
      if (reset) {
        hn = xg;  // mult = 1, h reset to 0
      } else {
        const __m256 a = avx2::exp_ps(log_a);
        const __m256 neg = avx2::expm1_ps(_mm256_add_ps(log_a, log_a));  // exp(2 log_a) - 1 <= 0
        const __m256 mult = _mm256_sqrt_ps(_mm256_sub_ps(_mm256_setzero_ps(), neg));
        const __m256 normalized = _mm256_mul_ps(xg, mult);
        hn = _mm256_add_ps(_mm256_mul_ps(a, _mm256_maskload_ps(s.h + c, m)), normalized);
      }
      _mm256_maskstore_ps(s.h + c, m, hn);
      _mm256_maskstore_ps(s.out + row + c, m, hn);
    }
  }
}

void scan_scalar(const ScanArgs& s, int64_t c0, int64_t c1) {
  for (int64_t t = 0; t < s.T; ++t) {
    const bool reset = (*s.positions)[size_t(t)] == 0;
    const int64_t row = t * s.C;
    for (int64_t c = c0; c < c1; ++c) {
      const float gx = sigmoid(s.gxp[row + c]);
      const float ga = sigmoid(s.gap[row + c]);
      const float log_a = -8.0f * ga * s.sp[c];
      const float a = std::exp(log_a);
      const float mult = reset ? 1.0f : std::sqrt(-std::expm1(2.0f * log_a));
      const float normalized = (s.x[row + c] * gx) * mult;
      const float hn = (reset ? 0.0f : a * s.h[c]) + normalized;
      s.h[c] = hn;
      s.out[row + c] = hn;
    }
  }
}

}  // namespace

void rglru_scan(Tensor& out, const Tensor& x, const Tensor& gate_x_pre, const Tensor& gate_a_pre,
                const Tensor& recurrent_param, const std::vector<int64_t>& positions, Tensor& h) {
  checks::check_rglru_scan_args(DeviceKind::CPU, out, x, gate_x_pre, gate_a_pre, recurrent_param, positions, h);
  const int64_t T = x.dim(0), C = x.dim(1);
  if (T == 0 || C == 0) return;

  // softplus(recurrent_param) once per channel (fp32, threshold 20 as torch).
  std::vector<float> sp(static_cast<size_t>(C));
  weights_to_f32(sp.data(), recurrent_param);
  for (float& v : sp) v = softplus(v);

  ScanArgs args{x.data<float>(), gate_x_pre.data<float>(), gate_a_pre.data<float>(), sp.data(), &positions,
                out.data<float>(), h.data<float>(), T, C};
  const Isa isa = active_isa();
  // Chunks of 64 channels keep each thread's rows of the inputs in whole cache lines.
  const int64_t chunks = (C + 63) / 64;
  parallel_for(chunks, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, T)), [&](int64_t k0, int64_t k1) {
    const int64_t c0 = k0 * 64, c1 = std::min(C, k1 * 64);
    if (isa == Isa::Avx512) scan_avx512(args, c0, c1);
    else if (isa == Isa::Avx2) scan_avx2(args, c0, c1);
    else scan_scalar(args, c0, c1);
  });
}

}  // namespace hl::cpu
