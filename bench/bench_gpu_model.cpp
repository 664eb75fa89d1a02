// The RecurrentGemma-2B shape on the GPU (--device cuda): prefill of 4096 tokens (one prompt again and again, and
// a new prompt each time), decode ms/token after a 4096-token prefill (the logits brought to the host; and the
// greedy step, the token chosen on the GPU), and one NIAH-sized cell (4096-token prompt, 40 greedy tokens), each
// plain (Arg 0), with entropy recording (1) and with entropy top-2 selection in prefill and generation (2); and
// one decode step of 8 forked states as one batch (plain and with entropy recording). Skipped without a CUDA
// device. Same checkpoint as bench_model.cpp (HL_BENCH_MODEL_DIR, written on first use), or a random model made
// on the GPU without a file: HL_BENCH_MODEL_DIR=random:recurrent_gemma:9b, random:jamba:jamba-mini-1.6 (the
// other shapes of issue 7).
//
//   build-cuda/hl_bench --benchmark_filter=Gpu2b
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>

#include "hybridlens/backend/make_backend.hpp"
#include "hybridlens/lens/lens.hpp"
#include "hybridlens/model/generate.hpp"
#include "hybridlens/model/random_checkpoint.hpp"
#include "hybridlens/model/registry.hpp"

namespace hl::bench {
namespace {

struct Gpu2b {
  std::string why;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> model;

  Gpu2b() {
    if (cuda_device_count(&why) == 0) return;
    const char* env = std::getenv("HL_BENCH_MODEL_DIR");
    // a checkpoint directory, or a random model made on the GPU (e.g. random:jamba:jamba-mini-1.6)
    const std::string dir = env ? env : "build/bench-rg2b";
    if (!is_random_model(dir) && !std::filesystem::exists(dir + "/model.safetensors")) {
      std::cerr << "writing a 2b-shaped random checkpoint to " << dir << " ...\n";
      RandomCheckpointOptions o;
      o.preset = "2b";
      o.out_dir = dir;
      write_random_checkpoint(o);
    }
    backend = make_backend(Device{DeviceKind::CUDA, 0});
    model = load_model(dir, *backend);
    DecodeState st = model->new_state();  // warm-up: module loading, cuBLAS heuristics, the memory pool
    const std::vector<int32_t> warm(600, 5);
    model->forward(st, warm, Phase::Prefill, LogitsWanted::Last);
  }
};

Gpu2b& the2b() {
  static Gpu2b b;
  return b;
}

// BOS, then random ids of the benchmarked model's vocabulary
std::vector<int32_t> ids(int n, unsigned seed = 1) {
  const Model& m = *the2b().model;
  std::mt19937 rng(seed);
  std::vector<int32_t> v{m.info().bos_id};
  while (int(v.size()) < n) v.push_back(int32_t(3 + rng() % unsigned(m.info().vocab - 3)));
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

bool skip(benchmark::State& state, Gpu2b& b) {
  if (b.model) return false;
  state.SkipWithError(("no CUDA device: " + b.why).c_str());
  return true;
}

void BM_Gpu2b_Prefill4096(benchmark::State& state) {
  Gpu2b& b = the2b();
  if (skip(state, b)) return;
  const auto prompt = ids(4096);
  for (auto _ : state) {
    auto lens = make_lens(int(state.range(0)), b.model->info());
    DecodeState st = b.model->new_state();
    benchmark::DoNotOptimize(b.model->forward(st, prompt, Phase::Prefill, LogitsWanted::Last, lens.get()));
  }
  state.counters["tokens_per_s"] = benchmark::Counter(4096.0, benchmark::Counter::kIsIterationInvariantRate);
}

// The same with a new prompt every iteration, as a sweep's cells bring them: what the model's first sight of a
// prompt costs (for Jamba, new expert row counts, so new product shapes).
void BM_Gpu2b_Prefill4096New(benchmark::State& state) {
  Gpu2b& b = the2b();
  if (skip(state, b)) return;
  unsigned seed = 100;
  for (auto _ : state) {
    state.PauseTiming();
    const auto prompt = ids(4096, seed++);
    state.ResumeTiming();
    DecodeState st = b.model->new_state();
    benchmark::DoNotOptimize(b.model->forward(st, prompt, Phase::Prefill, LogitsWanted::Last));
  }
  state.counters["tokens_per_s"] = benchmark::Counter(4096.0, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Gpu2b_Decode(benchmark::State& state) {
  Gpu2b& b = the2b();
  if (skip(state, b)) return;
  auto lens = make_lens(int(state.range(0)), b.model->info());
  DecodeState st = b.model->new_state();
  b.model->forward(st, ids(4096), Phase::Prefill, LogitsWanted::Last, lens.get());
  int32_t tok[1] = {17};
  for (auto _ : state) {
    benchmark::DoNotOptimize(b.model->forward(st, tok, Phase::Generation, LogitsWanted::Last, lens.get()));
    tok[0] = (tok[0] * 31 + 7) % b.model->info().vocab;
  }
  state.counters["tokens_per_s"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
}

// The decode step greedy generation takes (Model::forward_batch_greedy: the next token chosen on the GPU, 4
// bytes back instead of the vocabulary's logits), fed its own choice.
void BM_Gpu2b_DecodeGreedy(benchmark::State& state) {
  Gpu2b& b = the2b();
  if (skip(state, b)) return;
  auto lens = make_lens(int(state.range(0)), b.model->info());
  DecodeState st = b.model->new_state();
  b.model->forward(st, ids(4096), Phase::Prefill, LogitsWanted::Last, lens.get());
  DecodeState* const states[1] = {&st};
  LensHook* const hooks[1] = {lens.get()};
  int32_t tok[1] = {17};
  for (auto _ : state) tok[0] = b.model->forward_batch_greedy(states, tok, Phase::Generation, hooks)[0];
  state.counters["tokens_per_s"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
}

// One decode step of 8 forks of one 4096-token prefill, as one batch (Model::forward_batch: the NIAH sweep's
// forked cells); time per step (8 tokens).
void BM_Gpu2b_DecodeBatch8(benchmark::State& state) {
  Gpu2b& b = the2b();
  if (skip(state, b)) return;
  constexpr int kBatch = 8;
  const ModelInfo& info = b.model->info();
  DecodeState base = b.model->new_state();
  b.model->forward(base, ids(4096), Phase::Prefill, LogitsWanted::Last);
  std::vector<DecodeState> forks;
  std::vector<std::unique_ptr<Lens>> lenses;
  for (int i = 0; i < kBatch; ++i) {
    forks.push_back(base.fork(*b.backend));
    lenses.push_back(make_lens(int(state.range(0)), info));
  }
  std::vector<DecodeState*> states;
  std::vector<LensHook*> hooks;
  for (int i = 0; i < kBatch; ++i) {
    states.push_back(&forks[size_t(i)]);
    if (lenses[size_t(i)]) hooks.push_back(lenses[size_t(i)].get());
  }
  std::vector<int32_t> tok(kBatch);
  for (int i = 0; i < kBatch; ++i) tok[size_t(i)] = 17 + i;
  for (auto _ : state) {
    benchmark::DoNotOptimize(b.model->forward_batch(states, tok, Phase::Generation, hooks));
    for (int32_t& t : tok) t = (t * 31 + 7) % info.vocab;
  }
  state.counters["tokens_per_s"] = benchmark::Counter(double(kBatch), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Gpu2b_NiahCell(benchmark::State& state) {
  Gpu2b& b = the2b();
  if (skip(state, b)) return;
  const auto prompt = ids(4096);
  for (auto _ : state) {
    auto lens = make_lens(int(state.range(0)), b.model->info());
    GenerateOptions g;
    g.max_new_tokens = 40;
    g.stop_at_eos = false;
    g.lens = lens.get();
    benchmark::DoNotOptimize(generate_greedy(*b.model, prompt, g));
  }
}

BENCHMARK(BM_Gpu2b_Prefill4096)->Arg(0)->Arg(1)->Arg(2)->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Gpu2b_Prefill4096New)->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Gpu2b_Decode)->Arg(0)->Arg(1)->Arg(2)->Iterations(32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Gpu2b_DecodeGreedy)->Arg(0)->Arg(2)->Iterations(32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Gpu2b_DecodeBatch8)->Arg(0)->Arg(1)->Iterations(16)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Gpu2b_NiahCell)->Arg(0)->Arg(2)->Iterations(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace hl::bench
