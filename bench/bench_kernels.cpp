// Kernel benchmarks for linear on RecurrentGemma-2B shapes (hidden 2560, MLP 7680 wide), bf16 weights,
// quoted against this machine's floors measured in the same run (bench/floors.hpp) and against OpenBLAS
// sgemv/sgemm on fp32 weights as the peer:
//   decode  (T = 1):   bandwidth bound; GB_per_s = weight bytes / time, bw_ratio = that / stream bandwidth
//   prefill (T = 512): compute bound;   GFLOP_per_s = 2 T N K / time, fma_ratio = that / peak FMA rate
// Decode cycles through enough copies of the weight (~768 MB) that it streams from memory, not from the
// 300 MB L3, as a real model's weights do.
//
//   build-kern/hl_bench --benchmark_filter='Linear|OpenBlas'
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <random>
#include <vector>

#include "bench/floors.hpp"
#include "hybridlens/backend/cpu/ops.hpp"
#include "hybridlens/core/dtype.hpp"
#include "hybridlens/core/parallel.hpp"
#include "hybridlens/core/tensor.hpp"

namespace hl::bench {
namespace {

struct Floors {
  double bandwidth_gbs = 0, peak_gflops = 0;
  Floors() {
    bandwidth_gbs = measure_stream_bandwidth_gbs();
    peak_gflops = measure_peak_fma_gflops();
    std::cerr << "floors: stream bandwidth " << bandwidth_gbs << " GB/s, peak FMA " << peak_gflops
              << " GFLOP/s (" << num_threads() << " threads)\n";
  }
};

const Floors& floors() {
  static const Floors f;
  return f;
}

constexpr int64_t kRotationBytes = int64_t(768) << 20;

// `copies` weights [N, K] of dtype, filled with small random values.
std::vector<Tensor> make_weights(DType dtype, int64_t N, int64_t K, int copies) {
  std::vector<Tensor> ws;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-0.05f, 0.05f);
  Tensor first = Tensor::zeros(dtype, {N, K});
  for (int64_t i = 0; i < first.numel(); ++i) {
    const float v = u(rng);
    if (dtype == DType::F32) first.data<float>()[i] = v;
    else first.data<uint16_t>()[i] = f32_to_bf16(v);
  }
  ws.push_back(first);
  for (int c = 1; c < copies; ++c) {
    Tensor t = Tensor::zeros(dtype, {N, K});
    std::memcpy(t.raw(), first.raw(), first.nbytes());
    ws.push_back(t);
  }
  return ws;
}

// The weights of the last shape asked for (benchmark calls each case several times while it calibrates).
const std::vector<Tensor>& cached_weights(DType dtype, int64_t N, int64_t K, int copies) {
  static std::vector<Tensor> ws;
  static DType d = DType::U8;
  static int64_t n = -1, k = -1;
  if (d != dtype || n != N || k != K || int(ws.size()) != copies) {
    ws.clear();
    ws = make_weights(dtype, N, K, copies);
    d = dtype;
    n = N;
    k = K;
  }
  return ws;
}

int copies_for(int64_t N, int64_t K, DType dtype) {
  const int64_t bytes = N * K * int64_t(dtype_size(dtype));
  return int(std::max<int64_t>(1, (kRotationBytes + bytes - 1) / bytes));
}

Tensor activations(int64_t T, int64_t K) {
  Tensor x = Tensor::zeros(DType::F32, {T, K});
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = u(rng);
  return x;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// seconds: wall time of the whole timed loop (state.iterations() calls).
void set_decode_counters(benchmark::State& state, double bytes, double seconds) {
  const Floors& f = floors();
  const double gbs = bytes * double(state.iterations()) / seconds / 1e9;
  state.counters["GB_per_s"] = gbs;
  state.counters["floor_GB_per_s"] = f.bandwidth_gbs;
  state.counters["bw_ratio"] = gbs / f.bandwidth_gbs;
}

void set_prefill_counters(benchmark::State& state, double flops, double seconds) {
  const Floors& f = floors();
  const double gf = flops * double(state.iterations()) / seconds / 1e9;
  state.counters["GFLOP_per_s"] = gf;
  state.counters["peak_GFLOP_per_s"] = f.peak_gflops;
  state.counters["fma_ratio"] = gf / f.peak_gflops;
}

// Args: K, N.
void BM_LinearDecode_BF16(benchmark::State& state) {
  const int64_t K = state.range(0), N = state.range(1);
  floors();
  const auto& ws = cached_weights(DType::BF16, N, K, copies_for(N, K, DType::BF16));
  Tensor x = activations(1, K), out = Tensor::zeros(DType::F32, {1, N});
  size_t i = 0;
  const double t0 = now_s();
  for (auto _ : state) {
    cpu::linear(out, x, ws[i++ % ws.size()], Tensor());
    benchmark::ClobberMemory();
  }
  set_decode_counters(state, double(N * K * 2), now_s() - t0);
}

void BM_LinearPrefill_BF16(benchmark::State& state) {
  const int64_t K = state.range(0), N = state.range(1), T = 512;
  floors();
  const auto& ws = cached_weights(DType::BF16, N, K, 1);
  Tensor x = activations(T, K), out = Tensor::zeros(DType::F32, {T, N});
  const double t0 = now_s();
  for (auto _ : state) {
    cpu::linear(out, x, ws[0], Tensor());
    benchmark::ClobberMemory();
  }
  set_prefill_counters(state, 2.0 * double(T) * double(N) * double(K), now_s() - t0);
}

// The peer: OpenBLAS on fp32 weights with its own threads (all cores), as a user would call it.
struct OpenBlasThreads {
  OpenBlasThreads() { openblas_set_num_threads(num_threads()); }
  ~OpenBlasThreads() { openblas_set_num_threads(1); }  // our portable GEMM calls it single-threaded
};

void BM_OpenBlasDecode_F32(benchmark::State& state) {
  const int64_t K = state.range(0), N = state.range(1);
  floors();
  OpenBlasThreads threads;
  const auto& ws = cached_weights(DType::F32, N, K, copies_for(N, K, DType::F32));
  Tensor x = activations(1, K), out = Tensor::zeros(DType::F32, {1, N});
  size_t i = 0;
  const double t0 = now_s();
  for (auto _ : state) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, int(N), int(K), 1.0f, ws[i++ % ws.size()].data<float>(), int(K),
                x.data<float>(), 1, 0.0f, out.data<float>(), 1);
    benchmark::ClobberMemory();
  }
  set_decode_counters(state, double(N * K * 4), now_s() - t0);
  state.SetLabel(openblas_get_corename());
}

void BM_OpenBlasPrefill_F32(benchmark::State& state) {
  const int64_t K = state.range(0), N = state.range(1), T = 512;
  floors();
  OpenBlasThreads threads;
  const auto& ws = cached_weights(DType::F32, N, K, 1);
  Tensor x = activations(T, K), out = Tensor::zeros(DType::F32, {T, N});
  const double t0 = now_s();
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(T), int(N), int(K), 1.0f, x.data<float>(), int(K),
                ws[0].data<float>(), int(K), 0.0f, out.data<float>(), int(N));
    benchmark::ClobberMemory();
  }
  set_prefill_counters(state, 2.0 * double(T) * double(N) * double(K), now_s() - t0);
  state.SetLabel(openblas_get_corename());
}

// The 2b shapes: up/gate (2560 -> 7680), down (7680 -> 2560), square projections (2560 -> 2560).
void shapes(benchmark::internal::Benchmark* b) {
  b->Args({2560, 7680})->Args({7680, 2560})->Args({2560, 2560});
  b->ArgNames({"K", "N"})->UseRealTime()->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_LinearDecode_BF16)->Apply(shapes)->MinTime(1.0);
BENCHMARK(BM_OpenBlasDecode_F32)->Apply(shapes)->MinTime(1.0);
BENCHMARK(BM_LinearPrefill_BF16)->Apply(shapes)->MinTime(2.0);
BENCHMARK(BM_OpenBlasPrefill_F32)->Apply(shapes)->MinTime(2.0);

}  // namespace
}  // namespace hl::bench
