// Whole-model benchmarks on a RecurrentGemma-2B-shaped random checkpoint (bf16 weights): prefill and
// decode throughput next to this machine's floors measured in the same run, and the lens overhead.
//
//   build/hl_bench --benchmark_filter=Model   (HL_BENCH_MODEL_DIR picks the checkpoint directory;
//   it is created on first use, 5.4 GB)
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>

#include "bench/floors.hpp"
#include "hybridlens/lens/lens.hpp"
#include "hybridlens/model/random_checkpoint.hpp"
#include "hybridlens/model/registry.hpp"

namespace hl::bench {
namespace {

struct Bench2b {
  std::unique_ptr<Backend> backend = make_cpu_backend();
  std::unique_ptr<Model> model;
  double bandwidth_gbs = 0, peak_gflops = 0;
  double weight_bytes = 0, matmul_params = 0;

  Bench2b() {
    const char* env = std::getenv("HL_BENCH_MODEL_DIR");
    const std::string dir = env ? env : "build/bench-rg2b";
    if (!std::filesystem::exists(dir + "/model.safetensors")) {
      std::cerr << "writing a 2b-shaped random checkpoint to " << dir << " ...\n";
      RandomCheckpointOptions o;
      o.preset = "2b";
      o.out_dir = dir;
      write_random_checkpoint(o);
    }
    model = load_model(dir, *backend);
    bandwidth_gbs = measure_stream_bandwidth_gbs();
    peak_gflops = measure_peak_fma_gflops();
    const ModelInfo& i = model->info();
    weight_bytes = double(i.parameters) * 2;  // bf16; the tied embedding is read again as the head
    // Matmul parameters a prefill token touches: everything but the embedding table (the head runs once).
    matmul_params = double(i.parameters) - double(i.vocab) * i.hidden;
    std::cerr << "floors: stream bandwidth " << bandwidth_gbs << " GB/s, peak FMA " << peak_gflops << " GFLOP/s\n";
  }
};

Bench2b& the2b() {
  static Bench2b b;
  return b;
}

std::vector<int32_t> ids(int n) {
  std::mt19937 rng(1);
  std::vector<int32_t> v{2};
  while (int(v.size()) < n) v.push_back(int32_t(3 + rng() % 255000));
  return v;
}

std::unique_ptr<Lens> make_lens(int mode, const ModelInfo& info) {
  if (mode == 0) return nullptr;
  LensPlan p;
  p.record_entropy = true;
  if (mode == 2) {
    p.keep_k = 2;
    p.sparsify = SparsifyPhase::Both;
  }
  return std::make_unique<Lens>(p, info.attention_layers(), info.heads);
}

// Arg: 0 = plain, 1 = entropy recording, 2 = entropy recording + top-2 selection.
void BM_Model2b_Prefill(benchmark::State& state) {
  Bench2b& b = the2b();
  const int T = 128;
  const auto prompt = ids(T);
  for (auto _ : state) {
    auto lens = make_lens(int(state.range(0)), b.model->info());
    DecodeState st = b.model->new_state();
    benchmark::DoNotOptimize(b.model->forward(st, prompt, Phase::Prefill, LogitsWanted::Last, lens.get()));
  }
  const double flops = 2.0 * b.matmul_params * T + 2.0 * double(b.model->info().vocab) * b.model->info().hidden;
  state.counters["tokens_per_s"] = benchmark::Counter(double(T), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP_per_s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["floor_s"] = flops / (b.peak_gflops * 1e9);
  state.counters["peak_GFLOP_per_s"] = b.peak_gflops;
}

void BM_Model2b_Decode(benchmark::State& state) {
  Bench2b& b = the2b();
  auto lens = make_lens(int(state.range(0)), b.model->info());
  DecodeState st = b.model->new_state();
  b.model->forward(st, ids(64), Phase::Prefill, LogitsWanted::Last, lens.get());
  int32_t tok[1] = {17};
  for (auto _ : state) {
    benchmark::DoNotOptimize(b.model->forward(st, tok, Phase::Generation, LogitsWanted::Last, lens.get()));
    tok[0] = (tok[0] * 31 + 7) % 250000;
  }
  state.counters["tokens_per_s"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB_per_s"] = benchmark::Counter(b.weight_bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["floor_s"] = b.weight_bytes / (b.bandwidth_gbs * 1e9);
  state.counters["bandwidth_GB_per_s"] = b.bandwidth_gbs;
}

BENCHMARK(BM_Model2b_Prefill)->Arg(0)->Arg(1)->Arg(2)->Iterations(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Model2b_Decode)->Arg(0)->Arg(1)->Arg(2)->Iterations(8)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace hl::bench
