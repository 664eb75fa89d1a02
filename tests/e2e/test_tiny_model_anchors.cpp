// The study's central claim on the shipped trained models (issue 6), end to end through the CLI: with every
// attention head kept, tiny-jamba retrieves held-out needles (>= 90%) and so does tiny-griffin when the needle
// starts inside its 256-token attention window (>= 90%; beyond the window it mostly fails, the window
// effect); with no head kept (k = 0) neither retrieves anything. A reduced grid of `hybridlens niah` (every
// held-out needle, 2 context lengths x 3 depths), read back from the results database.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include "eval/eval_test_util.hpp"
#include "hybridlens/eval/sqlite.hpp"
#include "support/fixtures.hpp"

namespace hl {
namespace {

using test::run_cli;
using test::sh;

struct Accuracy {
  double accuracy = -1;
  int64_t cells = 0;
};

// accuracy by (model name, "all" or k) from the niah_accuracy view
std::map<std::pair<std::string, std::string>, Accuracy> accuracies(const std::string& db) {
  SqliteDb d(db, SqliteDb::Mode::ReadOnly);
  SqliteStatement s = d.prepare(
      "SELECT m.name, a.keep_all, a.keep_k, a.accuracy, a.cells FROM niah_accuracy a JOIN models m "
      "ON m.model_id = a.model_id");
  std::map<std::pair<std::string, std::string>, Accuracy> out;
  while (s.step()) {
    const std::string k = s.int64(1) ? "all" : std::to_string(s.int64(2));
    out[{s.text(0), k}] = Accuracy{s.real(3), s.int64(4)};
  }
  return out;
}

// accuracy with every head kept over the cells whose needle starts fewer than `distance` tokens before the
// prompt's end
Accuracy accuracy_within(const std::string& db, const std::string& model, int64_t distance) {
  SqliteDb d(db, SqliteDb::Mode::ReadOnly);
  SqliteStatement s = d.prepare(
      "SELECT avg(c.score = 5), count(*) FROM niah_cells c JOIN models m ON m.model_id = c.model_id "
      "WHERE m.name = ?1 AND c.keep_all = 1 AND c.prompt_tokens - c.needle_begin < ?2");
  s.bind(1, model);
  s.bind(2, distance);
  Accuracy a;
  if (s.step()) a = Accuracy{s.real(0), s.int64(1)};
  return a;
}

TEST(TinyModelAnchors, AllHeadsRetrieveAndNoHeadsDoNot) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "the end-to-end retrieval sweep runs in the Release suite, not under AddressSanitizer";
#endif
  const std::string root = HL_SOURCE_DIR;
  for (const char* m : {"tiny-jamba", "tiny-griffin"})
    ASSERT_TRUE(std::filesystem::exists(root + "/models/" + m + "/model.safetensors")) << m;
  const std::string db = test::temp_dir("tiny_anchors") + "/anchors.db";
  const std::string cmd = "niah --model " + sh(root + "/models/tiny-jamba") + " --model " +
                          sh(root + "/models/tiny-griffin") + " --needles " + sh(root + "/data/needles.jsonl") +
                          " --builtin-haystack --lengths 228,484 --buffer 100 --depths 0,50,100 --keep 0,all"
                          " --threads 2 --progress-lines --db " + sh(db);
  const test::CliResult r = run_cli(cmd);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto acc = accuracies(db);
  const int64_t cells = 14 * 2 * 3;  // held-out needles x lengths x depths
  for (const char* m : {"tiny-jamba", "tiny-griffin"}) {
    ASSERT_TRUE(acc.count({m, "all"}) && acc.count({m, "0"})) << m << "\n" << r.output;
    EXPECT_EQ(acc.at({m, "all"}).cells, cells) << m;
    EXPECT_EQ(acc.at({m, "0"}).cells, cells) << m;
    EXPECT_EQ(acc.at({m, "0"}).accuracy, 0.0) << m << ": retrieval with every attention head removed";
  }
  EXPECT_GE(acc.at({"tiny-jamba", "all"}).accuracy, 0.9) << r.output;
  // tiny-griffin over the whole grid: 84.6% when measured (docs/models.md), below the 90% anchor because of
  // needles beyond its window; inside the window it meets the anchor.
  EXPECT_GE(acc.at({"tiny-griffin", "all"}).accuracy, 0.75) << r.output;
  const Accuracy in_window = accuracy_within(db, "tiny-griffin", 256);
  EXPECT_GE(in_window.cells, 42) << "cells with the needle inside the window";
  EXPECT_GE(in_window.accuracy, 0.9) << r.output;
}

}  // namespace
}  // namespace hl
