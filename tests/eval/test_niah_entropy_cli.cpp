// niah --record-entropy end to end on a tiny random RecurrentGemma: one row per cell, attention layer and
// head; prompt and generated positions counted right; the planner's shared prefills give the same
// entropies as separate runs; a rerun with the flag fills in cells stored without it; a version-1
// database is upgraded with a message.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <tuple>

#include "eval/eval_test_util.hpp"
#include "hybridlens/eval/results_db.hpp"
#include "hybridlens/eval/sqlite.hpp"
#include "support/fixtures.hpp"

namespace hl {
namespace {

using test::run_cli;
using test::sh;

std::string niah_args(const std::string& db, const std::string& extra) {
  return "niah --model " + sh(test::tiny_model_dir()) + " --noise-haystack --buffer 24 --threads 1 --db " + sh(db) +
         " --lengths 128 --depths 0,100 --max-new-tokens 5 --ignore-eos --progress-lines " + extra;
}

int64_t scalar(const std::string& db, const std::string& sql) {
  SqliteDb d(db, SqliteDb::Mode::ReadOnly);
  SqliteStatement s = d.prepare(sql);
  s.step();
  return s.int64(0);
}

// cell key, layer, head -> (entropy, prompt entropy, generation entropy)
using EntropyRows = std::map<std::tuple<std::string, int64_t, int64_t>, std::tuple<double, double, double>>;
EntropyRows entropy_rows(const std::string& db) {
  SqliteDb d(db, SqliteDb::Mode::ReadOnly);
  SqliteStatement s = d.prepare(
      "SELECT c.cell_key, e.attention_layer, e.head, e.entropy_mean, e.prompt_entropy_mean, e.generation_entropy_mean "
      "FROM niah_head_entropy e JOIN niah_cells c ON c.cell_id = e.cell_id");
  EntropyRows rows;
  while (s.step()) rows[{s.text(0), s.int64(1), s.int64(2)}] = {s.real(3), s.real(4), s.real(5)};
  return rows;
}

TEST(NiahEntropyCli, OneRowPerCellLayerAndHeadWithPositionsCounted) {
  const std::string dir = test::temp_dir("niah_entropy");
  const std::string grid = "--keep 0,1,all --sparsify generation,both --record-entropy";
  const test::CliResult r = run_cli(niah_args(dir + "/shared.db", grid));
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string db = dir + "/shared.db";
  const int64_t cells = scalar(db, "SELECT COUNT(*) FROM niah_cells");
  const int64_t layers = scalar(db, "SELECT attention_layers FROM models");
  const int64_t heads = scalar(db, "SELECT heads FROM models");
  ASSERT_EQ(cells, 2 * 3 * 2);  // 2 depths x k {0, 1, all} x 2 phases
  ASSERT_GT(layers, 0);
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM niah_head_entropy"), cells * layers * heads);
  // Prompt positions are the prompt's tokens; generated positions the tokens fed back (all but the last).
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM niah_head_entropy e JOIN niah_cells c ON c.cell_id = e.cell_id "
                       "WHERE e.prompt_positions != c.prompt_tokens OR e.generation_positions != c.new_tokens - 1"),
            0);
  // Entropy in nats: at least 0, at most log(positions a query can see) <= log(128 + 5) < 5.
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM niah_head_entropy WHERE entropy_mean <= 0 OR entropy_mean > 5 OR "
                       "generation_entropy_mean IS NULL"),
            0);
  // Generation-only sparsification leaves the prefill alone: every k of a prompt has the same prompt
  // entropy; prefill+generation with k = 0 changes what later layers see, so its prompt entropy differs.
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM (SELECT c.prompt_sha256, e.attention_layer, e.head, "
                       "COUNT(DISTINCT e.prompt_entropy_mean) AS n FROM niah_head_entropy e JOIN niah_cells c ON "
                       "c.cell_id = e.cell_id WHERE c.sparsify = 'generation' GROUP BY 1, 2, 3) WHERE n != 1"),
            0);
  EXPECT_GT(scalar(db, "SELECT COUNT(*) FROM niah_head_entropy e JOIN niah_cells c ON c.cell_id = e.cell_id "
                       "JOIN niah_head_entropy e2 JOIN niah_cells c2 ON c2.cell_id = e2.cell_id "
                       "WHERE c.prompt_sha256 = c2.prompt_sha256 AND e.attention_layer = e2.attention_layer "
                       "AND e.head = e2.head AND c.sparsify = 'generation' AND c.keep_k = 0 AND c2.sparsify = 'both' "
                       "AND c2.keep_k = 0 AND e.attention_layer > 0 AND e.prompt_entropy_mean != e2.prompt_entropy_mean"),
            0);

  // Shared prefills and forks record what separate runs record.
  const test::CliResult alone = run_cli(niah_args(dir + "/alone.db", grid + " --no-share"));
  ASSERT_EQ(alone.status, 0) << alone.output;
  const EntropyRows shared_rows = entropy_rows(db), alone_rows = entropy_rows(dir + "/alone.db");
  ASSERT_EQ(shared_rows.size(), alone_rows.size());
  for (const auto& [key, v] : shared_rows) {
    ASSERT_TRUE(alone_rows.count(key));
    const auto& w = alone_rows.at(key);
    EXPECT_NEAR(std::get<0>(v), std::get<0>(w), 1e-9);
    EXPECT_NEAR(std::get<1>(v), std::get<1>(w), 1e-9);
    EXPECT_NEAR(std::get<2>(v), std::get<2>(w), 1e-9);
  }
}

TEST(NiahEntropyCli, RerunWithTheFlagFillsInCellsStoredWithoutIt) {
  const std::string db = test::temp_dir("niah_entropy_rerun") + "/r.db";
  ASSERT_EQ(run_cli(niah_args(db, "--keep 0,all")).status, 0);
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM niah_head_entropy"), 0);
  const int64_t cells = scalar(db, "SELECT COUNT(*) FROM niah_cells");
  const test::CliResult r = run_cli(niah_args(db, "--keep 0,all --record-entropy"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("0 already in"), std::string::npos) << r.output;
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM niah_cells"), cells);  // no cell added or replaced
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM niah_cells WHERE run_id != 1"), 0);
  EXPECT_EQ(scalar(db, "SELECT COUNT(DISTINCT cell_id) FROM niah_head_entropy"), cells);
  // Now everything is there: a third run computes nothing.
  const test::CliResult again = run_cli(niah_args(db, "--keep 0,all --record-entropy"));
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find(std::to_string(cells) + " already in"), std::string::npos) << again.output;
}

TEST(NiahEntropyCli, ExportsTheEntropyTableAndSaysWhenAVersionOneFileHasNone) {
  const std::string dir = test::temp_dir("niah_entropy_export");
  const std::string db = dir + "/r.db";
  ASSERT_EQ(run_cli(niah_args(db, "--keep all --record-entropy")).status, 0);
  const int64_t rows = scalar(db, "SELECT COUNT(*) FROM niah_head_entropy");
  ASSERT_GT(rows, 0);
  const test::CliResult csv = test::run_cli_stdout("export --db " + sh(db) + " --format csv --table niah_head_entropy");
  ASSERT_EQ(csv.status, 0) << csv.output;
  EXPECT_EQ(csv.output.rfind("cell_id,attention_layer,head,entropy_mean,", 0), 0u) << csv.output.substr(0, 200);
  int64_t lines = 0;
  for (char c : csv.output) lines += c == '\n';
  EXPECT_EQ(lines, rows + 1);  // header + one line per (cell, layer, head)

  {
    SqliteDb raw(db, SqliteDb::Mode::ReadWrite);
    raw.exec("DROP TABLE niah_head_entropy; UPDATE schema_info SET schema_version = 1;");
  }
  const test::CliResult v1 = run_cli("export --db " + sh(db) + " --format jsonl --table niah_head_entropy");
  EXPECT_NE(v1.status, 0);
  EXPECT_NE(v1.output.find("hybridlens: error: --table niah_head_entropy: this database has schema version 1"),
            std::string::npos)
      << v1.output;
  EXPECT_EQ(scalar(db, "SELECT schema_version FROM schema_info"), 1);  // read-only: left as it was
}

TEST(NiahEntropyCli, AVersionOneDatabaseIsUpgradedWithAMessage) {
  const std::string db = test::temp_dir("niah_entropy_v1") + "/r.db";
  ASSERT_EQ(run_cli(niah_args(db, "--keep all")).status, 0);
  {
    SqliteDb raw(db, SqliteDb::Mode::ReadWrite);
    raw.exec("DROP TABLE niah_head_entropy; UPDATE schema_info SET schema_version = 1;");
  }
  const test::CliResult r = run_cli(niah_args(db, "--keep all,0 --record-entropy"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("upgraded the results database from schema version 1 to 2"), std::string::npos) << r.output;
  EXPECT_EQ(scalar(db, "SELECT schema_version FROM schema_info"), 2);
  EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM niah_cells"), 4);
  EXPECT_GT(scalar(db, "SELECT COUNT(*) FROM niah_head_entropy"), 0);
}

}  // namespace
}  // namespace hl
