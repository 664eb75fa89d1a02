// Cached decoding equals recomputation; chunking and forks change nothing.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "hybridlens/model/generate.hpp"
#include "hybridlens/model/random_checkpoint.hpp"
#include "hybridlens/model/registry.hpp"
#include "support/fixtures.hpp"

namespace hl {
namespace {

struct TinyModel {
  std::unique_ptr<Backend> backend = make_cpu_backend();
  std::unique_ptr<Model> model;
  explicit TinyModel(const std::string& arch, const std::string& preset = "tiny") {
    RandomCheckpointOptions o;
    o.arch = arch;
    o.preset = preset;
    o.dtype = DType::F32;
    o.seed = 7;
    o.out_dir = test::temp_dir("tiny_" + arch);
    write_random_checkpoint(o);
    model = load_model(o.out_dir, *backend);
  }
};

std::vector<int32_t> random_ids(int n, int vocab, int bos, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> ids{bos};
  while (int(ids.size()) < n) ids.push_back(int32_t(rng() % unsigned(vocab)));
  return ids;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
  return m;
}

class DecodeStateTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DecodeStateTest, SplitCallsEqualOneCall) {
  TinyModel m(GetParam());
  const int V = m.model->info().vocab;
  // 600 tokens cross the internal 512-token chunk and, for RecurrentGemma, the 16-token window many times.
  const std::vector<int32_t> ids = random_ids(600, V, m.model->info().bos_id, 1);
  DecodeState whole = m.model->new_state();
  const std::vector<float> ref = m.model->forward(whole, ids, Phase::Prefill, LogitsWanted::All);

  DecodeState split = m.model->new_state();
  std::vector<float> got;
  const std::span<const int32_t> all(ids);
  for (auto [b, e] : std::vector<std::pair<int, int>>{{0, 37}, {37, 300}, {300, 590}}) {
    const auto part = m.model->forward(split, all.subspan(size_t(b), size_t(e - b)), Phase::Prefill, LogitsWanted::All);
    got.insert(got.end(), part.begin(), part.end());
  }
  for (int t = 590; t < 600; ++t) {
    const auto part = m.model->forward(split, all.subspan(size_t(t), 1), Phase::Generation, LogitsWanted::All);
    got.insert(got.end(), part.begin(), part.end());
  }
  EXPECT_LE(max_abs_diff(ref, got), 1e-4);
  EXPECT_EQ(split.position, 600);
}

TEST_P(DecodeStateTest, CachedGreedyEqualsRecomputation) {
  TinyModel m(GetParam());
  const int V = m.model->info().vocab;
  std::vector<int32_t> ids = random_ids(40, V, m.model->info().bos_id, 2);
  GenerateOptions g;
  g.max_new_tokens = 24;
  g.stop_at_eos = false;
  const std::vector<int32_t> cached = generate_greedy(*m.model, ids, g).new_ids;
  std::vector<int32_t> recomputed;
  for (int i = 0; i < g.max_new_tokens; ++i) {
    DecodeState fresh = m.model->new_state();
    const auto logits = m.model->forward(fresh, ids, Phase::Prefill, LogitsWanted::Last);
    const int32_t next = argmax(logits.data(), V);
    recomputed.push_back(next);
    ids.push_back(next);
  }
  EXPECT_EQ(cached, recomputed);
}

TEST_P(DecodeStateTest, ForkedStatesContinueIndependently) {
  TinyModel m(GetParam());
  const int V = m.model->info().vocab;
  const std::vector<int32_t> prompt = random_ids(50, V, m.model->info().bos_id, 3);
  DecodeState base = m.model->new_state();
  const auto last = m.model->forward(base, prompt, Phase::Prefill, LogitsWanted::Last);
  DecodeState a = base.fork(*m.backend);
  DecodeState b = base.fork(*m.backend);
  const int32_t x[1] = {5}, y[1] = {9};
  const auto la = m.model->forward(a, x, Phase::Generation, LogitsWanted::Last);
  m.model->forward(b, y, Phase::Generation, LogitsWanted::Last);  // must not disturb a or base
  DecodeState c = base.fork(*m.backend);
  const auto lc = m.model->forward(c, x, Phase::Generation, LogitsWanted::Last);
  EXPECT_EQ(la, lc);
  EXPECT_EQ(base.position, 50);
  GenerateOptions g;
  g.max_new_tokens = 8;
  g.stop_at_eos = false;
  DecodeState d = base.fork(*m.backend);
  EXPECT_EQ(continue_greedy(*m.model, d, last, g).new_ids, generate_greedy(*m.model, prompt, g).new_ids);
}

INSTANTIATE_TEST_SUITE_P(Architectures, DecodeStateTest, ::testing::Values("recurrent_gemma", "jamba", "mamba"));

}  // namespace
}  // namespace hl
