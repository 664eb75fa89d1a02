// AVX-512 kernels for linear: out[t, n] = sum_k x[t, k] * w[n, k] + bias[n], w stored F32, BF16 or F16.
//
// Weights are widened to fp32 in registers (bf16: zero-extend and shift left 16; f16: vcvtph2ps) and every
// product and sum is fp32 FMA. We deliberately do not use AVX512-BF16's vdpbf16ps: it would need the
// activations rounded to bf16 too (and it accumulates pairs with its own rounding), which changes the
// results against the fp32 reference; here only the weights are 16-bit, exactly as stored.
//
// Two kernels:
// - GEMV (few rows, decode): bandwidth bound. Each thread streams its own contiguous range of weight rows
//   once, 16 rows at a time; R rows x up to 8 tokens of 16-lane fp32 partial sums live in registers while
//   an input chunk goes by (chunks sized so the tokens' activations stay in L1), and in an L1 buffer
//   between chunks; they are reduced at the end of the rows. More than 8 tokens are handled in groups of 8
//   over the same 16-row block, which is still in L1/L2, so the weights come from memory once.
// - GEMM (many rows, prefill): compute bound. The activations are packed once per call into 12-row tiles
//   stored k-major ([K][12]), the weights block by block (NC outputs x KC inputs) into 32-wide k-major
//   micro-panels ([KC][32], widened to fp32 and transposed with a 16x16 register transpose). A 12 x 32
//   micro-kernel keeps 24 zmm accumulators: per k it loads two weight vectors and broadcasts 12
//   activations, 24 FMAs. Threads split the output columns (blocks of NC), so each packs only its weights.
#include <algorithm>
#include <cstdint>

#include "hybridlens/backend/cpu/linear_kernels.hpp"
#include "hybridlens/backend/cpu/scratch.hpp"
#include "hybridlens/backend/cpu/simd_avx512.hpp"
#include "hybridlens/core/parallel.hpp"

namespace hl::cpu {
namespace {

using avx512::tail_mask;
using avx512::WBF16;
using avx512::WF16;
using avx512::WF32;

// ------------------------------------------------------------------------------------------------------
// GEMV

// Rows per register block for TT tokens: R * TT accumulators + R weight vectors + 1 activation vector
// must fit the 32 zmm registers.
constexpr int gemv_rows_for(int tt) { return tt == 1 ? 8 : tt == 2 ? 6 : tt <= 6 ? 4 : 3; }

// Partial dot products over inputs [k0, k1) for R weight rows and TT tokens, accumulated in acc
// (R * TT vectors of 16 fp32 lanes, kept in L1 between input chunks). w points at the first of the R rows.
// pf_delta: where, relative to the element being read, the same row's data of the next pass lives (the
// next chunk of the row, or the row one block further on); it is prefetched into L2 as we go, because
// the short runs per row that chunking makes are too short for the hardware prefetcher to ramp up.
template <class W, int R, int TT>
HL_AVX512 void gemv_chunk(const float* x, int64_t ldx, int64_t K, const typename W::elem* w, int64_t k0, int64_t k1,
                          float* acc_mem, bool first, int64_t pf_delta) {
  __m512 acc[R][TT];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < TT; ++t)
      acc[r][t] = first ? _mm512_setzero_ps() : _mm512_load_ps(acc_mem + (r * TT + t) * 16);
  int64_t k = k0;
  for (; k + 16 <= k1; k += 16) {
    __m512 wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(w + r * K + k + pf_delta), _MM_HINT_T1);
      wv[r] = W::load(w + r * K + k);
    }
#pragma GCC unroll 8
    for (int t = 0; t < TT; ++t) {
      __m512 xv = _mm512_loadu_ps(x + t * ldx + k);
      // Keep xv in a register: GCC would otherwise fold the load into each of the R FMAs, and R * TT
      // loads per step saturate the load ports for TT > 4.
      __asm__("" : "+v"(xv));
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
  if (k < k1) {
    const __mmask16 m = tail_mask(k1 - k);
    __m512 wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) wv[r] = W::load(w + r * K + k, m);
#pragma GCC unroll 8
    for (int t = 0; t < TT; ++t) {
      const __m512 xv = _mm512_maskz_loadu_ps(m, x + t * ldx + k);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < TT; ++t) _mm512_store_ps(acc_mem + (r * TT + t) * 16, acc[r][t]);
}

HL_AVX512 float reduce16(const float* v) { return _mm512_reduce_add_ps(_mm512_load_ps(v)); }

constexpr int64_t kGemvBlock = 16;  // rows whose partial sums stay in L1 while the input chunks go by

// Rows [n0, n0 + rows) (rows <= kGemvBlock) for the TT tokens starting at t0. The inputs are walked in
// chunks small enough that the TT activation rows of a chunk stay in L1 (~24 KB) across all the rows.
template <class W, int TT>
HL_AVX512 void gemv_rows(const LinearArgs& a, int64_t t0, int64_t n0, int64_t rows) {
  constexpr int R = gemv_rows_for(TT);
  constexpr int64_t kChunk = (24576 / (TT * 4)) / 16 * 16;
  alignas(64) float acc[kGemvBlock * TT * 16];
  const auto* w = static_cast<const typename W::elem*>(a.w) + n0 * a.K;
  const float* x = a.x + t0 * a.ldx;
  for (int64_t k0 = 0; k0 < a.K; k0 += kChunk) {
    const int64_t k1 = std::min(a.K, k0 + kChunk);
    // Prefetch the next chunk of the same rows, or from the last chunk the next block's first chunk.
    const int64_t pf = k1 < a.K ? kChunk : kGemvBlock * a.K - k0;
    int64_t r = 0;
    for (; r + R <= rows; r += R)
      gemv_chunk<W, R, TT>(x, a.ldx, a.K, w + r * a.K, k0, k1, acc + r * TT * 16, k0 == 0, pf);
    for (; r < rows; ++r) gemv_chunk<W, 1, TT>(x, a.ldx, a.K, w + r * a.K, k0, k1, acc + r * TT * 16, k0 == 0, pf);
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float b = a.bias ? a.bias[n0 + r] : 0.0f;
    for (int t = 0; t < TT; ++t) a.out[(t0 + t) * a.ldo + n0 + r] = reduce16(acc + (r * TT + t) * 16) + b;
  }
}

template <class W>
void gemv(const LinearArgs& a) {
  // Each chunk of rows should carry enough weight bytes to be worth a thread (>= ~64 KB).
  const int64_t grain = std::max<int64_t>(
      kGemvBlock, (int64_t(64) << 10) / std::max<int64_t>(1, a.K * int64_t(sizeof(typename W::elem))));
  parallel_for(a.N, grain, [&](int64_t n0, int64_t n1) {
    for (int64_t b = n0; b < n1; b += kGemvBlock) {
      const int64_t rows = std::min(n1 - b, kGemvBlock);
      for (int64_t t0 = 0; t0 < a.T; t0 += 8) {  // later groups find the block's weights in L1/L2
        switch (std::min<int64_t>(8, a.T - t0)) {
          case 1: gemv_rows<W, 1>(a, t0, b, rows); break;
          case 2: gemv_rows<W, 2>(a, t0, b, rows); break;
          case 3: gemv_rows<W, 3>(a, t0, b, rows); break;
          case 4: gemv_rows<W, 4>(a, t0, b, rows); break;
          case 5: gemv_rows<W, 5>(a, t0, b, rows); break;
          case 6: gemv_rows<W, 6>(a, t0, b, rows); break;
          case 7: gemv_rows<W, 7>(a, t0, b, rows); break;
          default: gemv_rows<W, 8>(a, t0, b, rows); break;
        }
      }
    }
  });
}

// ------------------------------------------------------------------------------------------------------
// GEMM

constexpr int kMR = 12;           // activation rows per micro-tile
constexpr int kNR = 32;           // output columns per micro-tile (two zmm)
constexpr int64_t kKC = 512;      // inputs per packed weight block
constexpr int64_t kNCMax = 128;   // outputs per packed weight block
constexpr int64_t kTC = 960;      // activation rows packed at a time (80 tiles)

// Transposes 16 vectors in place: afterwards r[j][i] is the old r[i][j].
HL_AVX512_INLINE void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
#pragma GCC unroll 8
  for (int p = 0; p < 8; ++p) {
    t[2 * p] = _mm512_unpacklo_ps(r[2 * p], r[2 * p + 1]);
    t[2 * p + 1] = _mm512_unpackhi_ps(r[2 * p], r[2 * p + 1]);
  }
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    const __m512d a0 = _mm512_castps_pd(t[4 * q]), a1 = _mm512_castps_pd(t[4 * q + 1]);
    const __m512d a2 = _mm512_castps_pd(t[4 * q + 2]), a3 = _mm512_castps_pd(t[4 * q + 3]);
    u[4 * q + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a0, a2));
    u[4 * q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a0, a2));
    u[4 * q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a1, a3));
    u[4 * q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a1, a3));
  }
  // u[4q + c], 128-bit lane L, holds column 4L + c of rows 4q..4q+3: a 4x4 transpose of 128-bit lanes.
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    const __m512 s0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44);
    const __m512 s1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
    const __m512 s2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
    const __m512 s3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
    r[c] = _mm512_shuffle_f32x4(s0, s2, 0x88);
    r[4 + c] = _mm512_shuffle_f32x4(s0, s2, 0xDD);
    r[8 + c] = _mm512_shuffle_f32x4(s1, s3, 0x88);
    r[12 + c] = _mm512_shuffle_f32x4(s1, s3, 0xDD);
  }
}

// Packs one activation tile: xp[k * 12 + m] = x[m, k] for m < rows, 0 for rows <= m < 12.
HL_AVX512 void pack_x_tile(const float* x, int64_t ldx, int64_t K, int64_t rows, float* xp) {
  const float* src[kMR];
  for (int m = 0; m < kMR; ++m) src[m] = x + std::min<int64_t>(m, rows - 1) * ldx;
  if (rows == kMR) {
    for (int64_t k = 0; k < K; ++k)
#pragma GCC unroll 12
      for (int m = 0; m < kMR; ++m) xp[k * kMR + m] = src[m][k];
  } else {
    for (int64_t k = 0; k < K; ++k)
      for (int m = 0; m < kMR; ++m) xp[k * kMR + m] = m < rows ? src[m][k] : 0.0f;
  }
}

// Packs weight rows [n0, n0 + nrows) x inputs [k0, k0 + kc) into 32-wide micro-panels:
// bp[(p * kc + k) * 32 + j] = w[n0 + 32p + j, k0 + k], zero for rows past nrows.
template <class W>
HL_AVX512 void pack_w_block(const typename W::elem* w, int64_t K, int64_t n0, int64_t nrows, int64_t k0,
                            int64_t kc, float* bp) {
  const int64_t panels = (nrows + kNR - 1) / kNR;
  for (int64_t p = 0; p < panels; ++p) {
    for (int h = 0; h < 2; ++h) {
      const int64_t first = p * kNR + h * 16;
      const int64_t valid = std::clamp<int64_t>(nrows - first, 0, 16);
      const typename W::elem* rows = w + (n0 + first) * K + k0;
      float* dst = bp + p * kc * kNR + h * 16;
      for (int64_t kk = 0; kk < kc; kk += 16) {
        const int64_t klen = std::min<int64_t>(16, kc - kk);
        const __mmask16 m = tail_mask(klen);
        __m512 r[16];
        if (valid == 16 && klen == 16) {
#pragma GCC unroll 16
          for (int i = 0; i < 16; ++i) r[i] = W::load(rows + i * K + kk);
        } else {
          for (int i = 0; i < 16; ++i) r[i] = i < valid ? W::load(rows + i * K + kk, m) : _mm512_setzero_ps();
        }
        transpose16(r);
        if (klen == 16) {
#pragma GCC unroll 16
          for (int j = 0; j < 16; ++j) _mm512_store_ps(dst + (kk + j) * kNR, r[j]);
        } else {
          for (int j = 0; j < klen; ++j) _mm512_store_ps(dst + (kk + j) * kNR, r[j]);
        }
      }
    }
  }
}

// c[m, 0:32] (+)= sum_k ap[k * 12 + m] * bp[k * 32 + 0:32] for m < M; columns masked by m0 (first 16) and
// m1 (second 16). accumulate: add to what c holds; else start from bias (or zero when bias is null).
template <int M>
HL_AVX512 void micro_kernel(const float* ap, const float* bp, int64_t kc, float* c, int64_t ldc, __mmask16 m0,
                            __mmask16 m1, const float* bias, bool accumulate) {
  __m512 c0[M], c1[M];
  if (accumulate) {
#pragma GCC unroll 12
    for (int m = 0; m < M; ++m) {
      c0[m] = _mm512_maskz_loadu_ps(m0, c + m * ldc);
      c1[m] = _mm512_maskz_loadu_ps(m1, c + m * ldc + 16);
    }
  } else {
    const __m512 b0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
    const __m512 b1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 12
    for (int m = 0; m < M; ++m) {
      c0[m] = b0;
      c1[m] = b1;
    }
  }
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(bp + k * kNR);
    const __m512 b1 = _mm512_load_ps(bp + k * kNR + 16);
#pragma GCC unroll 12
    for (int m = 0; m < M; ++m) {
      const __m512 av = _mm512_set1_ps(ap[k * kMR + m]);
      c0[m] = _mm512_fmadd_ps(av, b0, c0[m]);
      c1[m] = _mm512_fmadd_ps(av, b1, c1[m]);
    }
  }
#pragma GCC unroll 12
  for (int m = 0; m < M; ++m) {
    _mm512_mask_storeu_ps(c + m * ldc, m0, c0[m]);
    _mm512_mask_storeu_ps(c + m * ldc + 16, m1, c1[m]);
  }
}

using MicroKernel = void (*)(const float*, const float*, int64_t, float*, int64_t, __mmask16, __mmask16,
                             const float*, bool);
constexpr MicroKernel kMicroKernels[kMR + 1] = {
    nullptr,         micro_kernel<1>, micro_kernel<2>, micro_kernel<3>,  micro_kernel<4>,
    micro_kernel<5>, micro_kernel<6>, micro_kernel<7>, micro_kernel<8>,  micro_kernel<9>,
    micro_kernel<10>, micro_kernel<11>, micro_kernel<12>};

template <class W>
void gemm(const LinearArgs& a) {
  const int threads = num_threads();
  // Output block width: a multiple of 32, at most kNCMax, small enough that every thread gets a block.
  int64_t nc = kNCMax;
  while (nc > kNR && (a.N + nc - 1) / nc < threads) nc -= kNR;
  const int64_t n_blocks = (a.N + nc - 1) / nc;
  const auto* w = static_cast<const typename W::elem*>(a.w);

  for (int64_t t0 = 0; t0 < a.T; t0 += kTC) {
    const int64_t tc = std::min(kTC, a.T - t0);
    const int64_t tiles = (tc + kMR - 1) / kMR;
    float* xp = thread_scratch(0, size_t(tiles) * size_t(a.K) * kMR);
    parallel_for(tiles, 8, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i)
        pack_x_tile(a.x + (t0 + i * kMR) * a.ldx, a.ldx, a.K, std::min<int64_t>(kMR, tc - i * kMR), xp + i * a.K * kMR);
    });
    parallel_for(n_blocks, 1, [&](int64_t b0, int64_t b1) {
      float* bp = thread_scratch(1, size_t(nc) * size_t(kKC));
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t n0 = b * nc;
        const int64_t nrows = std::min(nc, a.N - n0);
        const int64_t panels = (nrows + kNR - 1) / kNR;
        for (int64_t k0 = 0; k0 < a.K; k0 += kKC) {
          const int64_t kc = std::min(kKC, a.K - k0);
          pack_w_block<W>(w, a.K, n0, nrows, k0, kc, bp);
          for (int64_t i = 0; i < tiles; ++i) {
            const int64_t rows = std::min<int64_t>(kMR, tc - i * kMR);
            const float* ap = xp + i * a.K * kMR + k0 * kMR;
            float* c = a.out + (t0 + i * kMR) * a.ldo + n0;
            for (int64_t p = 0; p < panels; ++p) {
              const int64_t cols = std::min<int64_t>(kNR, nrows - p * kNR);
              const __mmask16 m0 = tail_mask(cols), m1 = tail_mask(std::max<int64_t>(0, cols - 16));
              kMicroKernels[rows](ap, bp + p * kc * kNR, kc, c + p * kNR, a.ldo, m0, m1,
                                  a.bias ? a.bias + n0 + p * kNR : nullptr, k0 > 0);
            }
          }
        }
      }
    });
  }
}

}  // namespace

void linear_gemv_avx512(const LinearArgs& a) {
  avx512::with_weight_type(a.wdt, [&]<class W>() { gemv<W>(a); });
}

void linear_gemm_avx512(const LinearArgs& a) {
  avx512::with_weight_type(a.wdt, [&]<class W>() { gemm<W>(a); });
}

}  // namespace hl::cpu
