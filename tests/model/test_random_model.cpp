// Random models made on the backend ("random:ARCH:PRESET[:SEED]", no file) against the checkpoint
// `random-checkpoint` writes for the same seed: the same parameters and bit-identical logits, for every
// architecture; and one clear error for each malformed name.
#include <gtest/gtest.h>

#include <cstring>

#include "hybridlens/backend/make_backend.hpp"
#include "hybridlens/model/registry.hpp"
#include "support/fixtures.hpp"

namespace hl {
namespace {

std::vector<float> prefill_logits(Model& m, const std::vector<int32_t>& ids) {
  DecodeState st = m.new_state();
  return m.forward(st, ids, Phase::Prefill, LogitsWanted::All);
}

class RandomModelTest : public ::testing::TestWithParam<const char*> {};

TEST_P(RandomModelTest, EqualsTheWrittenRandomCheckpointBitForBit) {
  const std::string arch = GetParam();
  const std::string dir = test::tiny_random_checkpoint(arch, DType::BF16, 42, "random_model");
  auto be = make_cpu_backend();
  auto from_file = load_model(dir, *be);
  auto made = load_model("random:" + arch + ":tiny:42", *be);
  EXPECT_EQ(made->info().parameters, from_file->info().parameters);
  EXPECT_EQ(made->info().weight_dtype, "BF16");
  EXPECT_EQ(made->info().layer_kinds, from_file->info().layer_kinds);

  std::vector<int32_t> ids{made->info().bos_id};
  for (int i = 0; i < 40; ++i) ids.push_back(int32_t((i * 37 + 11) % made->info().vocab));
  const std::vector<float> a = prefill_logits(*from_file, ids), b = prefill_logits(*made, ids);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << arch << ": logits differ";

  // another seed is another model
  auto other = load_model("random:" + arch + ":tiny:43", *be);
  const std::vector<float> c = prefill_logits(*other, ids);
  EXPECT_NE(std::memcmp(a.data(), c.data(), a.size() * sizeof(float)), 0) << arch;
}

INSTANTIATE_TEST_SUITE_P(Archs, RandomModelTest, ::testing::Values("recurrent_gemma", "jamba", "mamba"));

TEST(RandomModel, SeedDefaultsToZero) {
  auto be = make_cpu_backend();
  auto a = load_model("random:mamba:tiny", *be);
  auto b = load_model("random:mamba:tiny:0", *be);
  const std::vector<int32_t> ids{2, 5, 9, 14};
  const std::vector<float> la = prefill_logits(*a, ids), lb = prefill_logits(*b, ids);
  EXPECT_EQ(std::memcmp(la.data(), lb.data(), la.size() * sizeof(float)), 0);
}

TEST(RandomModel, MalformedNamesGiveOneClearError) {
  auto be = make_cpu_backend();
  const std::pair<const char*, const char*> cases[] = {
      {"random:recurrent_gemma", "expected random:ARCH:PRESET[:SEED]"},
      {"random:recurrent_gemma:tiny:1:2", "expected random:ARCH:PRESET[:SEED]"},
      {"random:gpt2:tiny", "unknown architecture \"gpt2\""},
      {"random:recurrent_gemma:huge", "unknown recurrent_gemma preset \"huge\""},
      {"random:mamba:tiny:-3", "is not a non-negative integer"},
      {"random:mamba:tiny:", "is not a non-negative integer"},
  };
  for (const auto& [name, want] : cases) {
    try {
      load_model(name, *be);
      ADD_FAILURE() << name << ": no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << name << ": " << e.what();
    }
  }
}

}  // namespace
}  // namespace hl
