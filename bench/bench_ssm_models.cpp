// Whole-model benchmarks for the SSM architectures on random checkpoints (bf16 weights): a Jamba shape
// (preset "small": hidden 1024, 8 layers, one attention layer, 16 experts with 2 per token; the 52B
// jamba-mini-1.6 does not fit this machine) and Mamba-130m. Prefill throughput against the peak-FMA
// floor, decode throughput against the bandwidth floor, both floors measured in the same run.
//
//   build/hl_bench --benchmark_filter='Jamba|Mamba'   (HL_BENCH_SSM_DIR picks where the checkpoints go;
//   they are written on first use: 0.2 GB and 0.26 GB)
//
// Floors. Decode: the weight bytes one token must read (every dense weight, the two chosen experts of
// each MoE layer, the head; one row of an untied embedding) over the stream bandwidth. Prefill: 2 FLOPs
// per multiply-add of every weight a token touches (the head once per call) over the peak FMA rate. Both
// leave out what is small next to the weights at these sizes: the selective scan and conv (about 2% of
// the FLOPs for Mamba-130m), attention scores, SSM/KV state traffic.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <random>

#include "bench/floors.hpp"
#include "hybridlens/model/random_checkpoint.hpp"
#include "hybridlens/model/registry.hpp"

namespace hl::bench {
namespace {

struct SsmBench {
  std::unique_ptr<Backend> backend = make_cpu_backend();
  std::unique_ptr<Model> model;
  double decode_bytes = 0;     // weight bytes read per decoded token
  double token_flops = 0;      // FLOPs per prompt token, head excluded
  double head_flops = 0;       // FLOPs of the head, once per call
};

double bandwidth_gbs() {
  static const double v = measure_stream_bandwidth_gbs();
  return v;
}

double peak_gflops() {
  static const double v = measure_peak_fma_gflops();
  return v;
}

SsmBench& bench_for(const std::string& arch, const std::string& preset) {
  static std::map<std::string, std::unique_ptr<SsmBench>> cache;
  std::unique_ptr<SsmBench>& b = cache[arch + "/" + preset];
  if (b) return *b;
  b = std::make_unique<SsmBench>();
  const char* env = std::getenv("HL_BENCH_SSM_DIR");
  const std::string dir = std::string(env ? env : "build/bench-ssm") + "/" + arch + "-" + preset;
  if (!std::filesystem::exists(dir + "/model.safetensors")) {
    std::cerr << "writing a " << arch << " " << preset << " random checkpoint to " << dir << " ...\n";
    RandomCheckpointOptions o;
    o.arch = arch;
    o.preset = preset;
    o.out_dir = dir;
    write_random_checkpoint(o);
  }
  b->model = load_model(dir, *b->backend);
  const ModelInfo& i = b->model->info();
  const double table = double(i.vocab) * i.hidden;
  const double active = double(i.active_parameters > 0 ? i.active_parameters : i.parameters);
  // Tied (Mamba): the table is the head, read in full. Untied (Jamba): one embedding row, plus the head.
  const bool tied = i.architecture == "MambaForCausalLM";
  b->decode_bytes = 2.0 * (tied ? active : active - table);
  b->head_flops = 2.0 * table;
  b->token_flops = 2.0 * (active - (tied ? table : 2 * table));
  std::cerr << arch << " " << preset << ": " << i.parameters << " parameters, " << active
            << " active per token; floors: stream bandwidth " << bandwidth_gbs() << " GB/s, peak FMA "
            << peak_gflops() << " GFLOP/s\n";
  return *b;
}

std::vector<int32_t> ids(int n, int vocab, int bos) {
  std::mt19937 rng(1);
  std::vector<int32_t> v{bos};
  while (int(v.size()) < n) v.push_back(int32_t(3 + rng() % unsigned(vocab - 3)));
  return v;
}

void prefill(benchmark::State& state, const std::string& arch, const std::string& preset) {
  SsmBench& b = bench_for(arch, preset);
  const int T = int(state.range(0));
  const ModelInfo& i = b.model->info();
  const auto prompt = ids(T, i.vocab, i.bos_id);
  for (auto _ : state) {
    DecodeState st = b.model->new_state();
    benchmark::DoNotOptimize(b.model->forward(st, prompt, Phase::Prefill, LogitsWanted::Last));
  }
  const double flops = b.token_flops * T + b.head_flops;
  const double floor_s = flops / (peak_gflops() * 1e9);
  state.counters["tokens_per_s"] = benchmark::Counter(double(T), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP_per_s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak_GFLOP_per_s"] = peak_gflops();
  state.counters["floor_s"] = floor_s;
  // Fraction of the floor reached: floor time over measured time (1 = at the peak-FMA floor).
  state.counters["of_floor"] = benchmark::Counter(floor_s, benchmark::Counter::kIsIterationInvariantRate);
}

void decode(benchmark::State& state, const std::string& arch, const std::string& preset) {
  SsmBench& b = bench_for(arch, preset);
  const ModelInfo& i = b.model->info();
  DecodeState st = b.model->new_state();
  b.model->forward(st, ids(64, i.vocab, i.bos_id), Phase::Prefill, LogitsWanted::Last);
  int32_t tok[1] = {17};
  for (auto _ : state) {
    benchmark::DoNotOptimize(b.model->forward(st, tok, Phase::Generation, LogitsWanted::Last));
    tok[0] = 3 + (tok[0] * 31 + 7) % (i.vocab - 3);
  }
  const double floor_s = b.decode_bytes / (bandwidth_gbs() * 1e9);
  state.counters["tokens_per_s"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB_per_s"] = benchmark::Counter(b.decode_bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bandwidth_GB_per_s"] = bandwidth_gbs();
  state.counters["floor_s"] = floor_s;
  state.counters["of_floor"] = benchmark::Counter(floor_s, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_JambaSmall_Prefill(benchmark::State& s) { prefill(s, "jamba", "small"); }
void BM_JambaSmall_Decode(benchmark::State& s) { decode(s, "jamba", "small"); }
void BM_Mamba130m_Prefill(benchmark::State& s) { prefill(s, "mamba", "130m"); }
void BM_Mamba130m_Decode(benchmark::State& s) { decode(s, "mamba", "130m"); }

BENCHMARK(BM_JambaSmall_Prefill)->Arg(128)->Arg(512)->Iterations(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_JambaSmall_Decode)->Iterations(16)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Mamba130m_Prefill)->Arg(128)->Arg(512)->Iterations(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Mamba130m_Decode)->Iterations(16)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace hl::bench
