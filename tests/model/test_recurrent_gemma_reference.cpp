// RecurrentGemma against logits and greedy continuations from transformers (tests/fixtures).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "hybridlens/io/npy.hpp"
#include "hybridlens/io/tokenizer.hpp"
#include "hybridlens/model/generate.hpp"
#include "hybridlens/model/registry.hpp"
#include "support/fixtures.hpp"

namespace hl {
namespace {

// "Within 1e-4 of the reference scale": max |ours - ref| <= 1e-4 * max |ref|.
constexpr double kRelTol = 1e-4;

TEST(RecurrentGemmaReference, FixturesExist) {
  EXPECT_GE(test::fixtures_of("recurrent_gemma").size(), 4u) << "run tools/make_fixtures.py (tools/README.md)";
}

TEST(RecurrentGemmaReference, LogitsMatchTransformers) {
  for (const test::Fixture& f : test::fixtures_of("recurrent_gemma")) {
    SCOPED_TRACE(f.name);
    auto backend = make_cpu_backend();
    auto model = load_model(f.dir, *backend);
    for (const test::FixtureCase& c : f.cases) {
      const Tensor ref = read_npy(c.logits_path);
      ASSERT_EQ(ref.dim(0), int64_t(c.ids.size()));
      ASSERT_EQ(ref.dim(1), model->info().vocab);
      DecodeState st = model->new_state();
      const std::vector<float> got = model->forward(st, c.ids, Phase::Prefill, LogitsWanted::All);
      ASSERT_EQ(int64_t(got.size()), ref.numel());
      double scale = 0, err = 0;
      for (int64_t i = 0; i < ref.numel(); ++i) {
        scale = std::max(scale, double(std::fabs(ref.data<float>()[i])));
        err = std::max(err, double(std::fabs(got[size_t(i)] - ref.data<float>()[i])));
      }
      EXPECT_LE(err, kRelTol * scale) << "max abs error " << err << ", reference scale " << scale;
      RecordProperty(f.name + "_max_abs_error", std::to_string(err));
    }
  }
}

TEST(RecurrentGemmaReference, GreedyContinuationsMatchTransformers) {
  for (const test::Fixture& f : test::fixtures_of("recurrent_gemma")) {
    SCOPED_TRACE(f.name);
    auto backend = make_cpu_backend();
    auto model = load_model(f.dir, *backend);
    for (const test::FixtureCase& c : f.cases) {
      GenerateOptions g;
      g.max_new_tokens = int(c.greedy_new_ids.size());
      EXPECT_EQ(generate_greedy(*model, c.ids, g).new_ids, c.greedy_new_ids);
    }
  }
}

TEST(RecurrentGemmaReference, TokenizerMatchesReferenceIds) {
  for (const test::Fixture& f : test::fixtures_of("recurrent_gemma")) {
    SCOPED_TRACE(f.name);
    auto tok = Tokenizer::load_dir(f.dir);
    EXPECT_EQ(tok->bos_id(), 2);
    for (const test::FixtureCase& c : f.cases) {
      if (!c.text.empty()) {
        EXPECT_EQ(tok->encode(c.text, true), c.ids);
      }
    }
  }
}

}  // namespace
}  // namespace hl
