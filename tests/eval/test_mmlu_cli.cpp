// hybridlens mmlu end to end on the project's MMLU-format fixture with a tiny random RecurrentGemma:
// items stored with log-probabilities, per-subject and overall accuracy, resume, and input errors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "eval/eval_test_util.hpp"
#include "hybridlens/eval/sqlite.hpp"
#include "support/fixtures.hpp"

namespace hl {
namespace {

using test::run_cli;
using test::sh;

std::string fixture_data() { return std::string(HL_SOURCE_DIR) + "/data/mmlu_fixture/data"; }

TEST(MmluCli, ScoresStoresAndResumes) {
  const std::string db = test::temp_dir("mmlu_cli") + "/r.db";
  const std::string args = "mmlu --model " + sh(test::tiny_letters_model_dir()) + " --data " + sh(fixture_data()) +
                           " --shots 2 --keep 0,all --threads 1 --db " + sh(db);
  const test::CliResult r = run_cli(args);
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* s : {"elementary_arithmetic", "kitchen_science", "solar_system", "overall"})
    EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
  EXPECT_NE(r.output.find("k=0  rank=entropy-low  sparsify=both"), std::string::npos) << r.output;
  {
    SqliteDb d(db, SqliteDb::Mode::ReadOnly);
    SqliteStatement s = d.prepare(
        "SELECT logprob_a, logprob_b, logprob_c, logprob_d, predicted, answer, correct, prefix_shared, shots, "
        "keep_k FROM mmlu_items");
    int rows = 0;
    while (s.step()) {
      ++rows;
      double p = 0, best = -1e300;
      char arg = 'A';
      for (int i = 0; i < 4; ++i) {
        EXPECT_LT(s.real(i), 0);
        p += std::exp(s.real(i));
        if (s.real(i) > best) best = s.real(i), arg = char('A' + i);
      }
      EXPECT_LE(p, 1.0 + 1e-6);
      EXPECT_EQ(s.text(4), std::string(1, arg));
      EXPECT_EQ(s.int64(6), s.text(4) == s.text(5) ? 1 : 0);
      EXPECT_EQ(s.int64(7), 1);  // the 2-shot prefix is run once per subject and forked
      EXPECT_EQ(s.int64(8), 2);
    }
    EXPECT_EQ(rows, 3 * 6 * 2);
    SqliteStatement acc = d.prepare("SELECT subjects, questions, accuracy FROM mmlu_accuracy ORDER BY keep_k");
    ASSERT_TRUE(acc.step());
    EXPECT_EQ(acc.int64(0), 3);
    EXPECT_EQ(acc.int64(1), 18);
    ASSERT_TRUE(acc.step());
    EXPECT_FALSE(acc.step());
  }
  const test::CliResult again = run_cli(args);
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("36 already in"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("overall"), std::string::npos) << again.output;  // the table still prints
}

TEST(MmluCli, SharedShotsGiveTheSameLogProbabilitiesAsWholePrompts) {
  const std::string dir = test::temp_dir("mmlu_share");
  const std::string base = "mmlu --model " + sh(test::tiny_letters_model_dir()) + " --data " + sh(fixture_data()) +
                           " --shots 3 --keep 1,all --sparsify both,generation --max-questions 3 --threads 1 ";
  ASSERT_EQ(run_cli(base + "--db " + sh(dir + "/a.db")).status, 0);
  ASSERT_EQ(run_cli(base + "--no-share --db " + sh(dir + "/b.db")).status, 0);
  auto read = [](const std::string& db) {
    std::map<std::string, std::vector<double>> m;
    SqliteDb d(db, SqliteDb::Mode::ReadOnly);
    SqliteStatement s = d.prepare("SELECT item_key, logprob_a, logprob_b, logprob_c, logprob_d, prefix_shared FROM mmlu_items");
    while (s.step()) m[s.text(0)] = {s.real(1), s.real(2), s.real(3), s.real(4), double(s.int64(5))};
    return m;
  };
  const auto a = read(dir + "/a.db"), b = read(dir + "/b.db");
  ASSERT_EQ(a.size(), 3u * 3u * 4u);
  ASSERT_EQ(b.size(), a.size());
  for (const auto& [key, va] : a) {
    ASSERT_TRUE(b.count(key));
    const auto& vb = b.at(key);
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(va[size_t(i)], vb[size_t(i)], 1e-5) << key;
    EXPECT_EQ(va[4], 1);
    EXPECT_EQ(vb[4], 0);
  }
}

TEST(MmluCli, ZeroShotAndPrefillManipulationLimits) {
  const std::string db = test::temp_dir("mmlu_cli0") + "/r.db";
  const std::string base = "mmlu --model " + sh(test::tiny_letters_model_dir()) + " --data " + sh(fixture_data()) +
                           " --threads 1 --db " + sh(db);
  const test::CliResult r = run_cli(base + " --shots 0 --subjects solar_system --max-questions 3 --sparsify generation");
  ASSERT_EQ(r.status, 0) << r.output;
  SqliteDb d(db, SqliteDb::Mode::ReadOnly);
  SqliteStatement s = d.prepare("SELECT COUNT(*), MIN(subject), MAX(sparsify) FROM mmlu_items");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.int64(0), 3);
  EXPECT_EQ(s.text(1), "solar_system");
  EXPECT_EQ(s.text(2), "generation");
  const test::CliResult omit = run_cli(base + " --prefill-manipulation omit");
  EXPECT_EQ(omit.status, 1);
  EXPECT_NE(omit.output.find("MMLU prompts have none"), std::string::npos) << omit.output;
}

TEST(MmluCli, BadDataNamesFileAndLine) {
  const std::string dir = test::temp_dir("mmlu_bad_cli");
  const std::string db = dir + "/r.db";
  test::write_file(dir + "/data/test/x_test.csv", "Q1?,a,b,c,d,A\n\"Q2?\",a,b,c,d,F\n");
  test::write_file(dir + "/data/dev/x_dev.csv", "Q?,a,b,c,d,A\n");
  const std::string base = "mmlu --model " + sh(test::tiny_letters_model_dir()) + " --threads 1 --db " + sh(db);
  const test::CliResult ans = run_cli(base + " --data " + sh(dir) + " --shots 0");
  EXPECT_EQ(ans.status, 1);
  EXPECT_NE(ans.output.find("x_test.csv:2: answer \"F\" is not one of A, B, C, D"), std::string::npos) << ans.output;
  test::write_file(dir + "/data/test/x_test.csv", "Q1?,a,b,c,d,A\nQ2?,a,b,c,A\n");
  const test::CliResult cols = run_cli(base + " --data " + sh(dir + "/data") + " --shots 0");
  EXPECT_EQ(cols.status, 1);
  EXPECT_NE(cols.output.find("x_test.csv:2: expected 6 columns"), std::string::npos) << cols.output;
  test::write_file(dir + "/data/test/x_test.csv", "Q1?,a,b,c,d,A\n");
  const test::CliResult shots = run_cli(base + " --data " + sh(dir) + " --shots 3");
  EXPECT_EQ(shots.status, 1);
  EXPECT_NE(shots.output.find("holds 1 questions, --shots asks for 3"), std::string::npos) << shots.output;
  // A tokenizer that splits " A" into two tokens cannot score letters.
  const test::CliResult split = run_cli("mmlu --model " + sh(test::tiny_model_dir()) + " --threads 1 --data " +
                                        sh(fixture_data()) + " --db " + sh(db));
  EXPECT_EQ(split.status, 1);
  EXPECT_NE(split.output.find("as a single token"), std::string::npos) << split.output;
}

}  // namespace
}  // namespace hl
