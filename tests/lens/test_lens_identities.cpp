// Exact identities of the lens on whole models (METHOD.md): k = all is the unmodified model, k = 0 is a
// model whose head outputs are zero (output bias kept), null equals k = 0 in its phase, a fixed list
// equal to the entropy choice gives the same logits; entropies match transformers' attention
// probabilities.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "hybridlens/io/npy.hpp"
#include "hybridlens/io/safetensors.hpp"
#include "hybridlens/lens/lens.hpp"
#include "hybridlens/model/registry.hpp"
#include "support/fixtures.hpp"

namespace hl {
namespace {

std::string tiny_checkpoint(const std::string& arch) {
  return test::tiny_random_checkpoint(arch, DType::F32, 3, "lens");
}

std::vector<int32_t> prompt_ids(int n, int vocab, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> ids;
  while (int(ids.size()) < n) ids.push_back(int32_t(rng() % unsigned(vocab)));
  return ids;
}

// Prefill then `steps` single-token decode steps fed with fixed tokens; all logits concatenated.
std::vector<float> run(Model& m, const std::vector<int32_t>& prompt, int steps, Lens* lens) {
  DecodeState st = m.new_state();
  std::vector<float> all = m.forward(st, prompt, Phase::Prefill, LogitsWanted::All, lens);
  for (int s = 0; s < steps; ++s) {
    const int32_t tok[1] = {int32_t((7 * s + 3) % m.info().vocab)};
    const auto l = m.forward(st, tok, Phase::Generation, LogitsWanted::Last, lens);
    all.insert(all.end(), l.begin(), l.end());
  }
  return all;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, double(std::fabs(a[i] - b[i])));
  return d;
}

class LensIdentity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = tiny_checkpoint(GetParam());
    backend_ = make_cpu_backend();
    model_ = load_model(dir_, *backend_);
    prompt_ = prompt_ids(70, model_->info().vocab, 4);  // several windows of the tiny RecurrentGemma
  }
  Lens lens(LensPlan p) const { return Lens(std::move(p), model_->info().attention_layers(), model_->info().heads); }
  std::string dir_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Model> model_;
  std::vector<int32_t> prompt_;
};

TEST_P(LensIdentity, KeepingAllHeadsIsTheUnmodifiedModel) {
  const auto plain = run(*model_, prompt_, 6, nullptr);
  for (int k : {-1, model_->info().heads, model_->info().heads + 5}) {
    LensPlan p;
    p.keep_k = k;
    p.sparsify = SparsifyPhase::Both;
    p.record_entropy = p.record_kept = true;
    Lens l = lens(p);
    EXPECT_EQ(run(*model_, prompt_, 6, &l), plain) << "k = " << k;
    const Tensor kept = l.kept();
    for (int64_t i = 0; i < kept.numel(); ++i) ASSERT_EQ(kept.data<uint8_t>()[i], 1);
  }
}

TEST_P(LensIdentity, KeepingNoHeadEqualsZeroHeadOutputsWithBiasKept) {
  // Reference: the same checkpoint with every output projection weight zeroed (its bias kept), so
  // whatever the heads compute contributes nothing.
  const TensorStore store = TensorStore::open_dir(dir_);
  std::vector<std::pair<std::string, Tensor>> tensors;
  std::vector<Tensor> keep_alive;
  for (const std::string& name : store.names()) {
    Tensor t = store.get(name);
    const bool out_proj = name.find("o_proj.weight") != std::string::npos;
    Tensor c = Tensor::zeros(t.dtype(), t.shape());
    if (!out_proj) std::memcpy(c.raw(), t.raw(), t.nbytes());
    tensors.emplace_back(name, c);
  }
  const std::string zeroed = test::temp_dir("zeroed_heads");
  write_safetensors(zeroed + "/model.safetensors", tensors);
  std::filesystem::copy_file(dir_ + "/config.json", zeroed + "/config.json");
  auto ref_model = load_model(zeroed, *backend_);
  const auto ref = run(*ref_model, prompt_, 5, nullptr);
  LensPlan p;
  p.keep_k = 0;
  p.sparsify = SparsifyPhase::Both;
  Lens l = lens(p);
  EXPECT_LE(max_diff(run(*model_, prompt_, 5, &l), ref), 1e-6);
}

TEST_P(LensIdentity, NullEqualsKeepingNoHeadInThatPhase) {
  for (SparsifyPhase phase : {SparsifyPhase::Generation, SparsifyPhase::Prefill, SparsifyPhase::Both}) {
    LensPlan k0;
    k0.keep_k = 0;
    k0.sparsify = phase;
    LensPlan null;
    if (phase != SparsifyPhase::Generation) null.prefill_manipulation = Manipulation::Null;
    if (phase != SparsifyPhase::Prefill) null.generation_manipulation = Manipulation::Null;
    Lens a = lens(k0), b = lens(null);
    EXPECT_EQ(run(*model_, prompt_, 5, &a), run(*model_, prompt_, 5, &b)) << sparsify_name(phase);
  }
}

TEST_P(LensIdentity, GenerationOnlySparsificationLeavesPrefillLogitsAlone) {
  LensPlan p;
  p.keep_k = 1;
  p.sparsify = SparsifyPhase::Generation;
  Lens l = lens(p);
  const auto plain = run(*model_, prompt_, 0, nullptr);
  EXPECT_EQ(run(*model_, prompt_, 0, &l), plain);
  Lens l2 = lens(p);
  EXPECT_GT(max_diff(run(*model_, prompt_, 4, &l2), run(*model_, prompt_, 4, nullptr)), 1e-4)
      << "keeping 1 head during generation should change the decode logits";
}

TEST_P(LensIdentity, FixedListEqualToTheEntropyChoiceGivesTheSameLogits) {
  // One decode step after a dense prefill: the entropy choice is one head set per layer, so a fixed
  // list can name exactly it.
  DecodeState base = model_->new_state();
  model_->forward(base, prompt_, Phase::Prefill, LogitsWanted::Last);
  const int32_t tok[1] = {5};
  LensPlan e;
  e.keep_k = 2;
  e.record_kept = true;
  Lens le = lens(e);
  DecodeState s1 = base.fork(*backend_);
  const auto by_entropy = model_->forward(s1, tok, Phase::Generation, LogitsWanted::Last, &le);
  const Tensor kept = le.kept();  // [layers, heads, positions]
  LensPlan f;
  f.rank = HeadRank::Fixed;
  const int64_t P = kept.dim(2);
  for (int64_t l = 0; l < kept.dim(0); ++l)
    for (int64_t h = 0; h < kept.dim(1); ++h)
      if (kept.data<uint8_t>()[(l * kept.dim(1) + h) * P + P - 1]) f.fixed.emplace_back(int(l), int(h));
  EXPECT_EQ(int64_t(f.fixed.size()), 2 * kept.dim(0));
  Lens lf = lens(f);
  DecodeState s2 = base.fork(*backend_);
  EXPECT_EQ(model_->forward(s2, tok, Phase::Generation, LogitsWanted::Last, &lf), by_entropy);
}

INSTANTIATE_TEST_SUITE_P(Architectures, LensIdentity, ::testing::Values("recurrent_gemma", "jamba"));

// Entropies recorded online against transformers' eager attention probabilities (tests/fixtures).
TEST(LensReference, EntropiesMatchTransformers) {
  int checked = 0;
  for (const std::string arch : {"recurrent_gemma", "jamba"}) {
    for (const test::Fixture& f : test::fixtures_of(arch)) {
      SCOPED_TRACE(f.name);
      auto backend = make_cpu_backend();
      auto model = load_model(f.dir, *backend);
      for (const test::FixtureCase& c : f.cases) {
        if (c.entropy_path.empty()) continue;
        const Tensor ref = read_npy(c.entropy_path);
        LensPlan p;
        p.record_entropy = true;
        Lens lens(p, model->info().attention_layers(), model->info().heads);
        DecodeState st = model->new_state();
        model->forward(st, c.ids, Phase::Prefill, LogitsWanted::None, &lens);
        const Tensor got = lens.entropy();
        ASSERT_EQ(got.shape(), ref.shape());
        double err = 0;
        for (int64_t i = 0; i < ref.numel(); ++i)
          err = std::max(err, double(std::fabs(got.data<float>()[i] - ref.data<float>()[i])));
        EXPECT_LE(err, 1e-4) << "max abs entropy error (nats)";
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 0) << "no fixture carries entropies";
}

}  // namespace
}  // namespace hl
