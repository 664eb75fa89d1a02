#include "floors.hpp"

// GCC 12 warns "__Y is used uninitialized" inside its own AVX-512 headers when inlined into
// target("avx512f") functions; spurious.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "hybridlens/core/error.hpp"

namespace hl::bench {
namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Sums 64-byte lines with several independent accumulators so the loop is limited by the loads.
__attribute__((target("avx512f"))) float read_sum_avx512(const float* p, size_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 64 <= n; i += 64) {
    a0 = _mm512_add_ps(a0, _mm512_load_ps(p + i));
    a1 = _mm512_add_ps(a1, _mm512_load_ps(p + i + 16));
    a2 = _mm512_add_ps(a2, _mm512_load_ps(p + i + 32));
    a3 = _mm512_add_ps(a3, _mm512_load_ps(p + i + 48));
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

__attribute__((target("avx2"))) float read_sum_avx2(const float* p, size_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 32 <= n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_load_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_load_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_load_ps(p + i + 24));
  }
  alignas(32) float t[8];
  _mm256_store_ps(t, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}

float read_sum_plain(const float* p, size_t n) {
  float a[8] = {};
  for (size_t i = 0; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) a[j] += p[i + j];
  return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

float read_sum(const float* p, size_t n) {
  if (__builtin_cpu_supports("avx512f")) return read_sum_avx512(p, n);
  if (__builtin_cpu_supports("avx2")) return read_sum_avx2(p, n);
  return read_sum_plain(p, n);
}

// Each thread runs `chains` independent FMA chains for `iters` rounds; returns FLOPs done by one thread.
// The chains keep their values bounded (x = x * 1 + tiny) so nothing overflows or goes denormal.
__attribute__((target("avx512f"))) double fma_chains_avx512(int64_t iters, float* sink) {
  constexpr int kChains = 24;  // > latency (4) x ports (2): enough independent work to fill both FMA units
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(1.0f + 1e-3f * float(c));
  const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 24
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], m, a);
  }
  __m512 s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm512_add_ps(s, acc[c]);
  *sink = _mm512_reduce_add_ps(s);
  return double(iters) * kChains * 16 * 2;
}

__attribute__((target("avx2,fma"))) double fma_chains_avx2(int64_t iters, float* sink) {
  constexpr int kChains = 12;
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(1.0f + 1e-3f * float(c));
  const __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], m, a);
  }
  __m256 s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm256_add_ps(s, acc[c]);
  alignas(32) float t[8];
  _mm256_store_ps(t, s);
  *sink = t[0] + t[7];
  return double(iters) * kChains * 8 * 2;
}

double fma_chains_plain(int64_t iters, float* sink) {
  constexpr int kChains = 8;
  float acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = 1.0f + 1e-3f * float(c);
  for (int64_t i = 0; i < iters; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * 0.999999f + 1e-7f;
  *sink = acc[0] + acc[kChains - 1];
  return double(iters) * kChains * 2;
}

double fma_chains(int64_t iters, float* sink) {
  if (__builtin_cpu_supports("avx512f")) return fma_chains_avx512(iters, sink);
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return fma_chains_avx2(iters, sink);
  return fma_chains_plain(iters, sink);
}

}  // namespace

double measure_stream_bandwidth_gbs() {
  const size_t bytes = size_t(2) << 30;  // 2 GiB, ~7x the 300 MB L3
  const size_t n = bytes / sizeof(float);
  float* buf = static_cast<float*>(std::aligned_alloc(4096, bytes));
  HL_CHECK(buf != nullptr, "measure_stream_bandwidth_gbs: cannot allocate ", bytes, " bytes");
  const int threads = omp_get_max_threads();
  // First touch from the threads that will read, so pages are spread the same way as the reads.
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const size_t b = n * size_t(t) / size_t(nt) / 64 * 64, e = n * size_t(t + 1) / size_t(nt) / 64 * 64;
    for (size_t i = b; i < e; ++i) buf[i] = 1.0f;
  }
  double best = 0;
  volatile float sink = 0;
  for (int pass = 0; pass < 5; ++pass) {
    float sums[256] = {};
    const double t0 = now_s();
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      const size_t b = n * size_t(t) / size_t(nt) / 64 * 64, e = n * size_t(t + 1) / size_t(nt) / 64 * 64;
      sums[t % 256] = read_sum(buf + b, e - b);
    }
    const double dt = now_s() - t0;
    sink = sink + sums[0];
    best = std::max(best, double(n / 64 * 64) * sizeof(float) / dt / 1e9);
  }
  std::free(buf);
  return best;
}

double measure_peak_fma_gflops() {
  const int threads = omp_get_max_threads();
  double best = 0;
  volatile float sink = 0;
  for (int pass = 0; pass < 5; ++pass) {
    double flops[256] = {};
    float sinks[256] = {};
    const double t0 = now_s();
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num();
      flops[t % 256] = fma_chains(int64_t(4) << 20, &sinks[t % 256]);
    }
    const double dt = now_s() - t0;
    double total = 0;
    for (int t = 0; t < std::min(threads, 256); ++t) total += flops[t];
    sink = sink + sinks[0];
    best = std::max(best, total / dt / 1e9);
  }
  return best;
}

}  // namespace hl::bench
