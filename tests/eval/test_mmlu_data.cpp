// MMLU data: RFC 4180 CSV, the original layout, the classic prompt, and errors naming file and line.
#include <gtest/gtest.h>

#include <functional>

#include "eval/eval_test_util.hpp"
#include "hybridlens/core/error.hpp"
#include "hybridlens/eval/csv.hpp"
#include "hybridlens/eval/mmlu.hpp"
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

TEST(Csv, QuotesCommasLineBreaksAndCrlf) {
  const auto r = parse_csv("a,\"b, c\",\"say \"\"hi\"\"\"\r\n\r\n\"two\nlines\",x,\nlast,row", "t.csv");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].fields, (std::vector<std::string>{"a", "b, c", "say \"hi\""}));
  EXPECT_EQ(r[0].line, 1);
  EXPECT_EQ(r[1].fields, (std::vector<std::string>{"two\nlines", "x", ""}));
  EXPECT_EQ(r[1].line, 3);
  EXPECT_EQ(r[2].fields, (std::vector<std::string>{"last", "row"}));
  EXPECT_EQ(r[2].line, 5);
  EXPECT_NE(error_of([] { parse_csv("a,\"open\nstill open", "t.csv"); }).find("t.csv:1: unterminated quoted field"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_csv("ok\n\"x\"y,z", "t.csv"); }).find("t.csv:2: text after a closing quote"),
            std::string::npos);
  for (const std::string v : {"plain", "a,b", "say \"hi\"", "two\nlines", " padded", ""}) {
    const auto back = parse_csv(csv_field(v) + ",end\n", "rt");
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0].fields[0], v);
  }
}

TEST(MmluData, FixtureHasTheOriginalLayout) {
  const std::string root = mmlu_data_root(std::string(HL_SOURCE_DIR) + "/data/mmlu_fixture");
  const auto subjects = mmlu_subjects(root);
  ASSERT_EQ(subjects, (std::vector<std::string>{"elementary_arithmetic", "kitchen_science", "solar_system"}));
  for (const std::string& s : subjects) {
    EXPECT_EQ(read_mmlu_csv(root + "/dev/" + s + "_dev.csv").size(), 5u) << s;
    EXPECT_EQ(read_mmlu_csv(root + "/test/" + s + "_test.csv").size(), 6u) << s;
  }
  const auto solar = read_mmlu_csv(root + "/test/solar_system_test.csv");
  EXPECT_EQ(solar[1].question, "Which planet is often called the \"Red Planet\"?");
  EXPECT_EQ(solar[5].question, "What do we call a rock from space that\nreaches the ground?");
  EXPECT_EQ(solar[5].line, 6);
  EXPECT_EQ(solar[5].answer, 'B');
}

TEST(MmluData, ClassicPrompt) {
  MmluQuestion shot{"What is 1 + 1?", {"1", "2", "3", "4"}, 'B', 1};
  MmluQuestion q{"Which is a color?", {"Red", "Nine", "Soft", "Fast"}, 'A', 1};
  EXPECT_EQ(mmlu_prompt_prefix("high_school_math", {shot}) + mmlu_question_text(q),
            "The following are multiple choice questions (with answers) about high school math.\n\n"
            "What is 1 + 1?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer: B\n\n"
            "Which is a color?\nA. Red\nB. Nine\nC. Soft\nD. Fast\nAnswer:");
  EXPECT_EQ(format_subject("abstract_algebra"), "abstract algebra");
}

TEST(MmluData, BadFilesNameFileAndLine) {
  const std::string dir = test::temp_dir("mmlu_bad");
  test::write_file(dir + "/cols.csv", "Q1?,a,b,c,d,A\n\"Q2, long\",a,b,c,d\n");
  const std::string cols = error_of([&] { read_mmlu_csv(dir + "/cols.csv"); });
  EXPECT_NE(cols.find("cols.csv:2: expected 6 columns (question, A, B, C, D, answer), got 5"), std::string::npos)
      << cols;
  test::write_file(dir + "/ans.csv", "Q1?,a,b,c,d,A\n\n\"multi\nline\",a,b,c,d,B\nQ3?,a,b,c,d,E\n");
  const std::string ans = error_of([&] { read_mmlu_csv(dir + "/ans.csv"); });
  EXPECT_NE(ans.find("ans.csv:5: answer \"E\" is not one of A, B, C, D"), std::string::npos) << ans;
  EXPECT_NE(error_of([&] { mmlu_data_root(dir); }).find("no test/ directory"), std::string::npos);
}

TEST(MmluData, AnswerLettersMustBeSingleTokens) {
  const auto split = Tokenizer::load_file(test::fixture_tokenizer_path());  // " A" is "▁" + "A" there
  EXPECT_NE(error_of([&] { answer_letter_ids(*split); }).find("does not encode \" A\" after \"Answer:\" as a single token"),
            std::string::npos);
  const auto tok = Tokenizer::load_file(test::letters_tokenizer_path());
  const auto ids = answer_letter_ids(*tok);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(tok->encode(std::string("Answer: ") + "ABCD"[i], false).back(), ids[size_t(i)]);
  }
}

}  // namespace
}  // namespace hl
