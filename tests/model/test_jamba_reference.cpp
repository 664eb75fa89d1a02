// Jamba against logits and greedy continuations from transformers (tests/fixtures, tools/make_fixtures.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "hybridlens/io/npy.hpp"
#include "hybridlens/io/tokenizer.hpp"
#include "hybridlens/model/generate.hpp"
#include "hybridlens/model/registry.hpp"
#include "support/fixtures.hpp"
#include "support/reference_checks.hpp"

namespace hl {
namespace {

TEST(JambaReference, FixturesExist) {
  EXPECT_GE(test::fixtures_of("jamba").size(), 4u) << "run tools/make_fixtures.py (tools/README.md)";
}

TEST(JambaReference, LogitsMatchTransformers) {
  for (const test::Fixture& f : test::fixtures_of("jamba")) test::expect_logits_match(f);
}

TEST(JambaReference, AttentionEntropyMatchesTransformers) {
  for (const test::Fixture& f : test::fixtures_of("jamba")) test::expect_entropy_match(f);
}

TEST(JambaReference, GreedyContinuationsMatchTransformers) {
  for (const test::Fixture& f : test::fixtures_of("jamba")) test::expect_greedy_match(f);
}

TEST(JambaReference, TokenizerMatchesReferenceIds) {
  for (const test::Fixture& f : test::fixtures_of("jamba")) test::expect_tokenizer_match(f);
}

}  // namespace
}  // namespace hl
