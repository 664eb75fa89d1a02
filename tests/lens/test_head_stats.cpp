// hybridlens heads: the per-head aggregates on hand-made recordings, and the command end to end.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "hybridlens/lens/head_stats.hpp"
#include "support/fixtures.hpp"

namespace hl {
namespace {

// 1 layer, 2 heads, prompt of 4 tokens [10, 11, 12, 13] with the needle at [1, 3), then 2 generated
// tokens [11, 99]: recordings cover positions 0..4 (the last generated token has none).
PromptRecording recording() {
  PromptRecording r;
  r.ids = {10, 11, 12, 13, 11, 99};
  r.prompt_length = 4;
  r.generated = 2;
  r.needle = NeedleSpan{1, 3};
  const int P = 5;
  r.entropy = Tensor::zeros(DType::F32, {1, 2, P});
  r.mass = Tensor::zeros(DType::F32, {1, 2, P});
  r.top1 = Tensor::zeros(DType::I32, {1, 2, P});
  const float ent[2][5] = {{0.1f, 0.2f, 0.3f, 0.4f, 0.5f}, {0.5f, 0.1f, 0.9f, 0.2f, 0.1f}};
  const float mass[2][5] = {{0, 0, 0, 0.8f, 0.6f}, {0, 0, 0, 0.1f, 0.3f}};
  // Step 0 is decided at position 3 and produced 11 = ids[1]; step 1 at position 4 produced 99.
  const int32_t top[2][5] = {{0, 0, 1, 1, 2}, {0, 1, 2, 3, 1}};
  for (int h = 0; h < 2; ++h)
    for (int t = 0; t < P; ++t) {
      r.entropy.data<float>()[h * P + t] = ent[h][t];
      r.mass.data<float>()[h * P + t] = mass[h][t];
      r.top1.data<int32_t>()[h * P + t] = top[h][t];
    }
  return r;
}

TEST(HeadStats, AggregatesByHand) {
  HeadStats s(1, 2, {1});
  s.add(recording());
  EXPECT_NEAR(s.entropy_mean(0, 0), 0.3, 1e-6);
  EXPECT_NEAR(s.entropy_mean(0, 1), 0.36, 1e-6);
  EXPECT_NEAR(s.entropy_std(0, 0), std::sqrt(0.025), 1e-6);
  // Head 0 is the lower-entropy head at positions 0, 2 (0.3 < 0.9); head 1 at 1, 3, 4.
  EXPECT_NEAR(s.topk_share(0, 0, 0), 2.0 / 5, 1e-9);
  EXPECT_NEAR(s.topk_share(0, 0, 1), 3.0 / 5, 1e-9);
  // Needle mass over the generation queries (positions 3 and 4).
  EXPECT_NEAR(s.needle_mass(0, 0), 0.7, 1e-6);
  EXPECT_NEAR(s.needle_mass(0, 1), 0.2, 1e-6);
  // Retrieval: head 0 at step 0 points at position 1 (needle) whose token 11 was generated: 1 hit / 2.
  // Head 1 at step 0 points at 3 (outside the needle); at step 1 at 1 but 99 != 11.
  EXPECT_NEAR(s.retrieval_score(0, 0), 0.5, 1e-9);
  EXPECT_NEAR(s.retrieval_score(0, 1), 0.0, 1e-9);
}

TEST(HeadStats, CommandWritesCsvAndHeatmaps) {
  const std::string dir = test::temp_dir("heads");
  {
    std::ofstream f(dir + "/prompts.jsonl");
    f << R"({"prompt": "The cat sat on the mat. The magic word is banana. The dog ran home.", "needle": "The magic word is banana."})"
      << "\n"
      << R"({"prompt": "Birds sing in the morning. The magic word is banana. Rain falls at night."})" << "\n";
  }
  const std::string cmd = std::string(HL_CLI_PATH) + " heads --model " + HL_FIXTURES_DIR +
                          "/rg_mqa_f32 --prompts " + dir + "/prompts.jsonl --needle-text \"The magic word is banana.\"" +
                          " --max-new-tokens 6 --k-list 1,2 --out " + dir + "/out 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream csv(dir + "/out/heads.csv");
  std::string header, line;
  std::getline(csv, header);
  EXPECT_EQ(header, "attention_layer,head,entropy_mean_nats,entropy_std_nats,needle_mass,retrieval_score,top1_share,top2_share");
  int rows = 0;
  while (std::getline(csv, line)) ++rows;
  EXPECT_EQ(rows, 2 * 4);  // 2 attention layers x 4 heads
  for (const char* svg : {"entropy_mean.svg", "retrieval_score.svg", "needle_mass.svg"}) {
    std::ifstream f(dir + "/out/" + svg);
    std::stringstream s;
    s << f.rdbuf();
    EXPECT_NE(s.str().find("<svg"), std::string::npos) << svg;
  }
  // A malformed prompts file is one clear error.
  std::ofstream(dir + "/bad.jsonl") << "{\"text\": 1}\n";
  const std::string bad = std::string(HL_CLI_PATH) + " heads --model " + HL_FIXTURES_DIR + "/rg_mqa_f32 --prompts " +
                          dir + "/bad.jsonl --out " + dir + "/o2 2>/dev/null";
  EXPECT_NE(std::system(bad.c_str()), 0);
}

}  // namespace
}  // namespace hl
