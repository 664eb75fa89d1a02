// METHOD.md's NIAH scoring: 5 for the whole needle sentence (case and punctuation ignored), otherwise the
// partial credit of the phrases found; the needles file format and its errors.
#include <gtest/gtest.h>

#include <functional>

#include "eval/eval_test_util.hpp"
#include "hybridlens/core/error.hpp"
#include "hybridlens/eval/niah_score.hpp"
#include "support/fixtures.hpp"

namespace hl {
namespace {

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(NiahScore, NormalisationLowercasesStripsPunctuationAndFoldsSpaces) {
  EXPECT_EQ(normalize_for_scoring("  Eat a Sandwich,\n and sit in \"Dolores Park\"!  "),
            "eat a sandwich and sit in dolores park");
  EXPECT_EQ(normalize_for_scoring("It's 4:30 p.m."), "its 430 pm");
  EXPECT_EQ(normalize_for_scoring(""), "");
}

TEST(NiahScore, MethodExamplesGivePartialCredit) {
  const Needle sf = default_needle();
  EXPECT_DOUBLE_EQ(score_output("The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a "
                                "sunny day.",
                                sf)
                       .score,
                   5);
  EXPECT_DOUBLE_EQ(score_output("the BEST thing to do in san francisco is: eat a sandwich, and sit in Dolores Park on a "
                                "sunny day!!! More text follows.",
                                sf)
                       .score,
                   5);
  EXPECT_DOUBLE_EQ(score_output("You should eat a sandwich.", sf).score, 1.0);
  EXPECT_DOUBLE_EQ(score_output("Dolores Park is nice.", sf).score, 0.5);
  EXPECT_DOUBLE_EQ(score_output("Sit in Dolores Park.", sf).score, 1.0);  // both park phrases
  EXPECT_DOUBLE_EQ(score_output("Go out on a sunny day.", sf).score, 1.0);
  EXPECT_DOUBLE_EQ(score_output("Eat a sandwich and sit in Dolores Park.", sf).score, 2.0);
  EXPECT_DOUBLE_EQ(score_output("eat a sandwich and sit in dolores park on a sunny day", sf).score, 3.0);
  EXPECT_DOUBLE_EQ(score_output("Visit the Golden Gate Bridge.", sf).score, 0.0);
  EXPECT_DOUBLE_EQ(score_output("", sf).score, 0.0);
  EXPECT_TRUE(score_output("eat a sandwich and sit in dolores park on a sunny day", sf).answer_found);
  EXPECT_FALSE(score_output("eat a sandwich", sf).answer_found);
}

TEST(NiahScore, ProjectNeedlesFileLoads) {
  const std::vector<Needle> needles = read_needles(std::string(HL_SOURCE_DIR) + "/data/needles.jsonl");
  ASSERT_GE(needles.size(), 12u);
  for (const Needle& n : needles) {
    EXPECT_FALSE(n.id.empty());
    EXPECT_DOUBLE_EQ(score_output(n.needle, n).score, 5) << n.id;
    EXPECT_TRUE(score_output(n.needle, n).answer_found) << n.id;
    double total = 0;
    for (const auto& [phrase, points] : n.partial) total += points;
    EXPECT_LT(total, 5) << n.id;
  }
  const Needle& soup = needles[0];
  EXPECT_EQ(soup.id, "soup");
  EXPECT_DOUBLE_EQ(score_output("A spoonful of smoked paprika.", soup).score, 2.5);
}

TEST(NiahScore, NeedleFileErrorsNameTheLine) {
  const std::string dir = test::temp_dir("needles");
  auto err = [&](const std::string& text) {
    test::write_file(dir + "/n.jsonl", text);
    return error_of([&] { read_needles(dir + "/n.jsonl"); });
  };
  EXPECT_NE(err("{\"needle\": \"A.\", \"question\": \"Q?\"}\nnot json\n").find("n.jsonl:2: not a JSON object"),
            std::string::npos);
  EXPECT_NE(err("{\"question\": \"Q?\"}\n").find(":1: missing \"needle\""), std::string::npos);
  EXPECT_NE(err("{\"needle\": \"A.\", \"question\": \"Q?\", \"partial\": [[\"a\", 3], [\"b\", 2]]}\n")
                .find("add up to 5"),
            std::string::npos);
  EXPECT_NE(err("{\"needle\": \"A.\", \"question\": \"Q?\", \"partial\": [\"a\"]}\n").find("[\"phrase\", points"),
            std::string::npos);
  EXPECT_NE(err("{\"id\": \"x\", \"needle\": \"A.\", \"question\": \"Q?\"}\n{\"id\": \"x\", \"needle\": \"B.\", "
                "\"question\": \"Q?\"}\n")
                .find(":2: duplicate id"),
            std::string::npos);
  EXPECT_NE(err("\n\n").find("no needles"), std::string::npos);
}

}  // namespace
}  // namespace hl
