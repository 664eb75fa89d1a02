// Batched decoding of forked states (Model::forward_batch): one decode step of B forks of one prefill as
// one batched forward against B single-state forwards, the way the NIAH sweep planner decodes a prefill
// group's forks (generation-only k grid: 7 forks). Decode is memory bound, so the batched step should cost
// about one single step while B single steps cost B of them.
//
//   build/hl_bench --benchmark_filter=BatchedDecode   (run from the repository root: the shipped
//   models/tiny-* checkpoints; the 2B shape only when HL_BENCH_MODEL_DIR names its checkpoint directory)
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>

#include "hybridlens/lens/lens.hpp"
#include "hybridlens/model/registry.hpp"

namespace hl::bench {
namespace {

struct Loaded {
  std::unique_ptr<Backend> backend = make_cpu_backend();
  std::unique_ptr<Model> model;
  DecodeState prefilled;
};

Loaded& loaded(const std::string& dir) {
  static std::map<std::string, std::unique_ptr<Loaded>> cache;
  auto& l = cache[dir];
  if (!l) {
    l = std::make_unique<Loaded>();
    l->model = load_model(dir, *l->backend);
    std::mt19937 rng(1);
    std::vector<int32_t> prompt{l->model->info().bos_id};
    while (prompt.size() < 256) prompt.push_back(int32_t(3 + rng() % unsigned(l->model->info().vocab - 3)));
    l->prefilled = l->model->new_state();
    l->model->forward(l->prefilled, prompt, Phase::Prefill, LogitsWanted::None);
  }
  return *l;
}

// range(0): B forks; range(1): 1 = one batched forward per step, 0 = B single forwards per step. Each fork
// has its own lens keeping k heads in generation (k = 0, 1, 2, 4, 8, 16, all as the default grid).
void run(benchmark::State& state, const std::string& dir) {
  if (!std::filesystem::exists(dir + "/model.safetensors")) {
    state.SkipWithError(("no checkpoint in " + dir).c_str());
    return;
  }
  Loaded& l = loaded(dir);
  const size_t B = size_t(state.range(0));
  const bool batched = state.range(1) != 0;
  const int keeps[7] = {0, 1, 2, 4, 8, 16, -1};
  std::vector<DecodeState> forks;
  std::vector<std::unique_ptr<Lens>> lenses;
  std::vector<DecodeState*> states;
  std::vector<LensHook*> hooks;
  for (size_t b = 0; b < B; ++b) {
    forks.push_back(l.prefilled.fork(*l.backend));
    LensPlan p;
    p.keep_k = keeps[b % 7];
    p.sparsify = SparsifyPhase::Generation;
    lenses.push_back(std::make_unique<Lens>(p, l.model->info().attention_layers(), l.model->info().heads));
  }
  for (size_t b = 0; b < B; ++b) {
    states.push_back(&forks[b]);
    hooks.push_back(lenses[b].get());
  }
  std::vector<int32_t> ids(B, 17);
  for (auto _ : state) {
    if (batched) {
      benchmark::DoNotOptimize(l.model->forward_batch(states, ids, Phase::Generation, hooks));
    } else {
      for (size_t b = 0; b < B; ++b)
        benchmark::DoNotOptimize(
            l.model->forward(forks[b], std::span<const int32_t>(&ids[b], 1), Phase::Generation, LogitsWanted::Last, hooks[b]));
    }
    for (int32_t& t : ids) t = (t * 31 + 7) % 500;
  }
  state.counters["fork_tokens_per_s"] = benchmark::Counter(double(B), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_BatchedDecode_TinyGriffin(benchmark::State& s) { run(s, "models/tiny-griffin"); }
void BM_BatchedDecode_TinyJamba(benchmark::State& s) { run(s, "models/tiny-jamba"); }
void BM_BatchedDecode_TinyMamba(benchmark::State& s) { run(s, "models/tiny-mamba"); }
void BM_BatchedDecode_2b(benchmark::State& s) {
  const char* env = std::getenv("HL_BENCH_MODEL_DIR");
  if (!env) {
    s.SkipWithError("HL_BENCH_MODEL_DIR is not set (the 2b-shaped checkpoint directory)");
    return;
  }
  run(s, env);
}

void args(benchmark::internal::Benchmark* b) {
  for (int batched : {0, 1})
    for (int B : {1, 3, 7}) b->Args({B, batched});
  b->ArgNames({"forks", "batched"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_BatchedDecode_TinyGriffin)->Apply(args)->MinTime(0.5);
BENCHMARK(BM_BatchedDecode_TinyJamba)->Apply(args)->MinTime(0.5);
BENCHMARK(BM_BatchedDecode_TinyMamba)->Apply(args)->MinTime(0.5);
BENCHMARK(BM_BatchedDecode_2b)->Apply(args)->Iterations(4);

}  // namespace
}  // namespace hl::bench
