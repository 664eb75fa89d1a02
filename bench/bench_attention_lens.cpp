// The lens's own cost, isolated: one RecurrentGemma-2B attention layer (10 heads, 1 KV head, head_dim
// 256, window 2048) with and without entropy recording and top-2 selection, for a decode step over a
// full window and for a 512-token prefill block. Relate it to a whole model step with BM_Model2b_*.
//
//   build/hl_bench --benchmark_filter=AttentionLens2b
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "hybridlens/backend/cpu/attention.hpp"

namespace hl::bench {
namespace {

constexpr int kHeads = 10, kDim = 256, kWindow = 2048;

Tensor random_tensor(Shape s, unsigned seed) {
  Tensor t = Tensor::zeros(DType::F32, std::move(s));
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0, 1);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = n(rng);
  return t;
}

// Arg 0: mode (0 plain, 1 entropy, 2 entropy + top-2); arg 1: queries in the call (1 = decode).
void BM_AttentionLens2b(benchmark::State& state) {
  const int mode = int(state.range(0));
  const int64_t T = state.range(1);
  const int64_t first = 4096;  // a full window of keys behind every query
  KVCache cache;
  cache.capacity = kWindow;
  cache.k = random_tensor({kWindow, kDim}, 1);
  cache.v = random_tensor({kWindow, kDim}, 2);
  const Tensor q = random_tensor({T, kHeads * kDim}, 3), k = random_tensor({T, kDim}, 4), v = random_tensor({T, kDim}, 5);
  Tensor out = Tensor::zeros(DType::F32, {T, kHeads * kDim});
  std::vector<float> entropy(size_t(kHeads * T));
  std::vector<uint8_t> kept(size_t(kHeads * T));
  AttentionLens lens;
  lens.stride = T;
  if (mode >= 1) lens.entropy = entropy.data();
  if (mode == 2) {
    lens.keep_k = 2;
    lens.kept = kept.data();
  }
  const AttentionSpec spec{kHeads, 1, kDim, kWindow, 1.0f / 16.0f};
  for (auto _ : state) {
    cache.length = first;
    cpu::attention(out, q, k, v, cache, spec, first, mode ? &lens : nullptr);
    benchmark::DoNotOptimize(out.raw());
  }
}

BENCHMARK(BM_AttentionLens2b)
    ->ArgsProduct({{0, 1, 2}, {1, 512}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->MinTime(1.0);

}  // namespace
}  // namespace hl::bench
