// Mamba against logits and greedy continuations from transformers (tests/fixtures, tools/make_fixtures.py).
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

TEST(MambaReference, FixturesExist) {
  EXPECT_GE(test::fixtures_of("mamba").size(), 2u) << "run tools/make_fixtures.py (tools/README.md)";
}

TEST(MambaReference, LogitsMatchTransformers) {
  for (const test::Fixture& f : test::fixtures_of("mamba")) test::expect_logits_match(f);
}

TEST(MambaReference, GreedyContinuationsMatchTransformers) {
  for (const test::Fixture& f : test::fixtures_of("mamba")) test::expect_greedy_match(f);
}

TEST(MambaReference, TokenizerMatchesReferenceIds) {
  for (const test::Fixture& f : test::fixtures_of("mamba")) test::expect_tokenizer_match(f);
}

}  // namespace
}  // namespace hl
