#include "hybridlens/backend/cpu/ssm_ops.hpp"

#include <algorithm>
#include <cmath>

#include "hybridlens/backend/cpu/isa.hpp"
#include "hybridlens/backend/cpu/scratch.hpp"
#include "hybridlens/backend/cpu/simd_avx512.hpp"
#include "hybridlens/backend/cpu/weights.hpp"
#include "hybridlens/backend/op_checks.hpp"
#include "hybridlens/core/parallel.hpp"

namespace hl::cpu {
namespace {

// Channels per block: one AVX-512 vector. The scan runs over the channels of a block in the vector lanes,
// so it vectorizes for any state size N; the block's state is kept transposed, [N][kBlock].
constexpr int64_t kBlock = 16;

struct ScanArgs {
  const float* x;
  const float* delta;
  const float* B;
  const float* C;
  float* y;
  float* state;
  int64_t T, Din, N;
};

// Block state in and out of the transposed scratch layout (lanes past w stay zero).
void load_block_state(const ScanArgs& s, int64_t d0, int64_t w, float* h) {
  std::fill_n(h, s.N * kBlock, 0.0f);
  for (int64_t j = 0; j < w; ++j)
    for (int64_t n = 0; n < s.N; ++n) h[n * kBlock + j] = s.state[(d0 + j) * s.N + n];
}

void store_block_state(const ScanArgs& s, int64_t d0, int64_t w, const float* h) {
  for (int64_t j = 0; j < w; ++j)
    for (int64_t n = 0; n < s.N; ++n) s.state[(d0 + j) * s.N + n] = h[n * kBlock + j];
}

// exp(x) for 16 lanes: Cody-Waite reduction by ln 2, the Cephes expf polynomial (about 1 ulp), and
// vscalefps for 2^k, which also gives 0 for very negative x and inf past the float range without clamps.
HL_AVX512_INLINE __m512 exp16(__m512 x) {
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, k);
}

// One block of w <= 16 channels from d0. a: [N][16] = A = -exp(A_log) of the block, transposed; dv: [16] = D;
// h: [N][16] the block state. As transformers: h = exp(delta A) h + (delta B) x; y = sum_n h C + D x.
HL_AVX512 void scan_block_avx512(const ScanArgs& s, int64_t d0, int64_t w, const float* a, const float* dv,
                                 float* h) {
  const __mmask16 m = avx512::tail_mask(w);
  const __m512 d = _mm512_loadu_ps(dv);
  for (int64_t t = 0; t < s.T; ++t) {
    const __m512 x = _mm512_maskz_loadu_ps(m, s.x + t * s.Din + d0);
    const __m512 dt = _mm512_maskz_loadu_ps(m, s.delta + t * s.Din + d0);
    const float* bt = s.B + t * s.N;
    const float* ct = s.C + t * s.N;
    __m512 acc = _mm512_setzero_ps();
    for (int64_t n = 0; n < s.N; ++n) {
      const __m512 da = exp16(_mm512_mul_ps(dt, _mm512_load_ps(a + n * kBlock)));
      const __m512 dbx = _mm512_mul_ps(_mm512_mul_ps(dt, _mm512_set1_ps(bt[n])), x);
      const __m512 hn = _mm512_fmadd_ps(da, _mm512_load_ps(h + n * kBlock), dbx);
      _mm512_store_ps(h + n * kBlock, hn);
      acc = _mm512_fmadd_ps(hn, _mm512_set1_ps(ct[n]), acc);
    }
    _mm512_mask_storeu_ps(s.y + t * s.Din + d0, m, _mm512_fmadd_ps(d, x, acc));
  }
}

void scan_block_portable(const ScanArgs& s, int64_t d0, int64_t w, const float* a, const float* dv, float* h) {
  for (int64_t t = 0; t < s.T; ++t) {
    const float* xt = s.x + t * s.Din + d0;
    const float* dt = s.delta + t * s.Din + d0;
    const float* bt = s.B + t * s.N;
    const float* ct = s.C + t * s.N;
    for (int64_t j = 0; j < w; ++j) {
      float acc = 0;
      for (int64_t n = 0; n < s.N; ++n) {
        float& hn = h[n * kBlock + j];
        hn = std::exp(dt[j] * a[n * kBlock + j]) * hn + (dt[j] * bt[n]) * xt[j];
        acc += hn * ct[n];
      }
      s.y[t * s.Din + d0 + j] = acc + dv[j] * xt[j];
    }
  }
}

}  // namespace

void selective_scan(Tensor& y, const Tensor& x, const Tensor& delta, const Tensor& A_log, const Tensor& B,
                    const Tensor& C, const Tensor& D, Tensor& state) {
  checks::check_selective_scan_args(DeviceKind::CPU, y, x, delta, A_log, B, C, D, state);
  const ScanArgs s{x.data<float>(), delta.data<float>(), B.data<float>(), C.data<float>(), y.data<float>(),
                   state.data<float>(), x.dim(0), x.dim(1), A_log.dim(1)};
  if (s.T == 0 || s.Din == 0) return;
  const bool avx512 = active_isa() == Isa::Avx512;
  const int64_t blocks = (s.Din + kBlock - 1) / kBlock;
  // Enough blocks per task that a task is worth a thread: about 64k state updates.
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, s.T * s.N * kBlock));
  parallel_for(blocks, grain, [&](int64_t b0, int64_t b1) {
    float* a = thread_scratch(0, size_t(s.N * kBlock));
    float* h = thread_scratch(1, size_t(s.N * kBlock));
    float* row = thread_scratch(2, size_t(s.N * kBlock));
    alignas(64) float dv[kBlock];
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t d0 = b * kBlock, w = std::min(kBlock, s.Din - d0);
      weights_to_f32(row, A_log.raw(), A_log.dtype(), d0 * s.N, w * s.N);
      std::fill_n(a, s.N * kBlock, 0.0f);
      for (int64_t j = 0; j < w; ++j)
        for (int64_t n = 0; n < s.N; ++n) a[n * kBlock + j] = -std::exp(row[j * s.N + n]);
      std::fill_n(dv, kBlock, 0.0f);
      weights_to_f32(dv, D.raw(), D.dtype(), d0, w);
      load_block_state(s, d0, w, h);
      if (avx512)
        scan_block_avx512(s, d0, w, a, dv, h);
      else
        scan_block_portable(s, d0, w, a, dv, h);
      store_block_state(s, d0, w, h);
    }
  });
}

}  // namespace hl::cpu
