// hybridlens niah / export end to end on a tiny random RecurrentGemma: cells stored with every setting,
// reruns skipping finished cells, the planner's shared prefills giving the same outputs as separate runs,
// kill -9 in the middle of a sweep, exports, and bad input reported in one line with the database kept.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "eval/eval_test_util.hpp"
#include "hybridlens/eval/csv.hpp"
#include "hybridlens/eval/sqlite.hpp"
#include "support/fixtures.hpp"

namespace hl {
namespace {

using test::run_cli;
using test::sh;

int64_t count_rows(const std::string& db, const std::string& table) {
  SqliteDb d(db, SqliteDb::Mode::ReadOnly);
  SqliteStatement s = d.prepare("SELECT COUNT(*) FROM " + table);
  s.step();
  return s.int64(0);
}

std::string integrity(const std::string& db) {
  SqliteDb d(db, SqliteDb::Mode::ReadOnly);
  SqliteStatement s = d.prepare("PRAGMA integrity_check");
  s.step();
  return s.text(0);
}

std::string niah_args(const std::string& db, const std::string& extra) {
  return "niah --model " + sh(test::tiny_model_dir()) + " --noise-haystack --buffer 24 --threads 1 --db " + sh(db) +
         " " + extra;
}

std::string last_line(const std::string& s) {
  std::string t = s;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  return t.substr(t.rfind('\n') == std::string::npos ? 0 : t.rfind('\n') + 1);
}

TEST(NiahCli, StoresScoredCellsAndSkipsThemOnRerun) {
  const std::string db = test::temp_dir("niah_cli") + "/results/r.db";
  const std::string grid = "--lengths 128,160 --depths 0,50,100 --keep 0,1,8,all --sparsify generation,both "
                           "--max-new-tokens 6 --progress-lines";
  const test::CliResult r = run_cli(niah_args(db, grid));
  ASSERT_EQ(r.status, 0) << r.output;
  // k = 8 is above the 4 heads: the same cell as all. 2 lengths x 3 depths x {0, 1, all} x 2 phases.
  EXPECT_EQ(count_rows(db, "niah_cells"), 36);
  EXPECT_NE(r.output.find("niah 36/36 cells"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("k=all  rank=entropy-low  sparsify=both"), std::string::npos) << r.output;
  {
    SqliteDb d(db, SqliteDb::Mode::ReadOnly);
    SqliteStatement s = d.prepare(
        "SELECT context_length, depth_percent, context_tokens, prompt_tokens, needle_begin, needle_end, keep_k, heads, "
        "keep_all, output_ids, new_tokens, score, correct, needle_id, haystack, template, prompt_sha256, model_id "
        "FROM niah_cells");
    int rows = 0;
    while (s.step()) {
      ++rows;
      EXPECT_LE(s.int64(2), s.int64(0) - 24);
      EXPECT_GT(s.int64(5), s.int64(4));
      EXPECT_LT(s.int64(5), s.int64(3));
      EXPECT_TRUE(s.int64(6) == 0 || s.int64(6) == 1 || s.int64(6) == 4);
      EXPECT_EQ(s.int64(7), 4);
      EXPECT_EQ(s.int64(8), s.int64(6) == 4 ? 1 : 0);
      const auto ids = nlohmann::json::parse(s.text(9));
      EXPECT_EQ(int64_t(ids.size()), s.int64(10));
      EXPECT_GE(s.int64(10), 1);
      EXPECT_LE(s.int64(10), 6);
      EXPECT_GE(s.real(11), 0);
      EXPECT_LT(s.real(11), 5);  // random weights do not retrieve
      EXPECT_EQ(s.text(13), "sf");
      EXPECT_EQ(s.text(14), "noise");
      EXPECT_EQ(s.text(15), "base");
      EXPECT_EQ(s.text(16).size(), 64u);
    }
    EXPECT_EQ(rows, 36);
    SqliteStatement m = d.prepare("SELECT architecture, heads, length(config_sha256) FROM models");
    ASSERT_TRUE(m.step());
    EXPECT_EQ(m.text(0), "recurrent_gemma");
    EXPECT_EQ(m.int64(1), 4);
    EXPECT_EQ(m.int64(2), 64);
  }
  const test::CliResult again = run_cli(niah_args(db, grid));
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("36 already in"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("0 cells run"), std::string::npos) << again.output;
  EXPECT_EQ(count_rows(db, "niah_cells"), 36);
  SqliteDb d(db, SqliteDb::Mode::ReadOnly);
  SqliteStatement runs = d.prepare("SELECT cells_planned, cells_skipped, cells_done, finished_at FROM runs ORDER BY run_id");
  ASSERT_TRUE(runs.step());
  EXPECT_EQ(runs.int64(2), 36);
  ASSERT_TRUE(runs.step());
  EXPECT_EQ(runs.int64(0), 36);
  EXPECT_EQ(runs.int64(1), 36);
  EXPECT_EQ(runs.int64(2), 0);
  EXPECT_FALSE(runs.is_null(3));

  // Exports of the same table.
  const std::string dir = std::filesystem::path(db).parent_path().string();
  const test::CliResult csv = test::run_cli_stdout("export --db " + sh(db) + " --format csv");
  ASSERT_EQ(csv.status, 0);
  const auto records = parse_csv(csv.output, "export.csv");
  ASSERT_EQ(records.size(), 37u);
  const auto& header = records[0].fields;
  EXPECT_EQ(header[0], "cell_id");
  const auto col = std::find(header.begin(), header.end(), "output_text") - header.begin();
  for (size_t i = 1; i < records.size(); ++i) EXPECT_EQ(records[i].fields.size(), header.size());
  const test::CliResult jsonl = run_cli("export --db " + sh(db) + " --format jsonl --out " + sh(dir + "/cells.jsonl"));
  ASSERT_EQ(jsonl.status, 0) << jsonl.output;
  std::istringstream lines(test::read_file(dir + "/cells.jsonl"));
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_TRUE(j["output_ids"].is_array());
    EXPECT_EQ(int64_t(j["output_ids"].size()), j["new_tokens"].get<int64_t>());
    EXPECT_TRUE(j["score"].is_number());
    EXPECT_EQ(j["output_text"].get<std::string>().empty(), records[size_t(n) + 1].fields[size_t(col)].empty());
    ++n;
  }
  EXPECT_EQ(n, 36);
  const test::CliResult acc = test::run_cli_stdout("export --db " + sh(db) + " --table niah_accuracy --format csv");
  EXPECT_EQ(parse_csv(acc.output, "acc").size(), 7u);  // header + 6 configurations
  const test::CliResult bad = run_cli("export --db " + sh(db) + " --table secrets");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.output.find("unknown table \"secrets\""), std::string::npos);
}

TEST(NiahCli, SeveralModelsAreACellDimension) {
  // The second model has a 400-piece tokenizer under a 512-row vocabulary: ids beyond the tokenizer are
  // generated and must not stop the run.
  const std::string db = test::temp_dir("niah_models") + "/r.db";
  const test::CliResult r =
      run_cli("niah --model " + sh(test::tiny_model_dir()) + " --model " + sh(test::tiny_letters_model_dir()) +
              " --noise-haystack --buffer 24 --threads 1 --lengths 150 --depths 20,80 --keep 0,all "
              "--max-new-tokens 8 --db " + sh(db));
  ASSERT_EQ(r.status, 0) << r.output;
  SqliteDb d(db, SqliteDb::Mode::ReadOnly);
  SqliteStatement s = d.prepare(
      "SELECT COUNT(*), COUNT(DISTINCT model_id), COUNT(DISTINCT prompt_sha256) FROM niah_cells");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.int64(0), 8);
  EXPECT_EQ(s.int64(1), 2);
  EXPECT_EQ(s.int64(2), 4);  // each model's own tokenizer measures and encodes its prompts
}

TEST(NiahCli, SharedPrefillsGiveTheSameOutputsAsSeparateRuns) {
  const std::string dir = test::temp_dir("niah_share");
  const std::string grid =
      "--lengths 140 --depths 30,90 --keep 0,1,all --sparsify generation,both --prefill-manipulation keep,omit "
      "--generation-manipulation keep,only --max-new-tokens 5";
  const test::CliResult shared = run_cli(niah_args(dir + "/shared.db", grid));
  ASSERT_EQ(shared.status, 0) << shared.output;
  // 3 k x 2 phases x 2 x 2 manipulations = 24 cells per prompt; prefills: (dense + 2 sparse) x 2 prefill
  // manipulations; decodes: all but the 4 duplicates of k = all.
  EXPECT_NE(shared.output.find("planner: 12 prefills and 40 decodes for the whole grid instead of 48 each"),
            std::string::npos)
      << shared.output;
  const test::CliResult alone = run_cli(niah_args(dir + "/alone.db", grid + " --no-share"));
  ASSERT_EQ(alone.status, 0) << alone.output;
  EXPECT_NE(alone.output.find("(48 prefills, 48 decodes)"), std::string::npos) << alone.output;
  auto outputs = [](const std::string& db) {
    std::map<std::string, std::string> m;
    SqliteDb d(db, SqliteDb::Mode::ReadOnly);
    SqliteStatement s = d.prepare("SELECT cell_key, output_ids, prefill_shared FROM niah_cells");
    while (s.step()) m[s.text(0)] = s.text(1);
    return m;
  };
  const auto a = outputs(dir + "/shared.db"), b = outputs(dir + "/alone.db");
  ASSERT_EQ(a.size(), 48u);
  EXPECT_EQ(a, b);  // same keys (settings) and bit-identical greedy outputs
  SqliteDb d(dir + "/shared.db", SqliteDb::Mode::ReadOnly);
  SqliteStatement groups = d.prepare("SELECT COUNT(DISTINCT prefill_group), SUM(decode_shared) FROM niah_cells");
  ASSERT_TRUE(groups.step());
  EXPECT_EQ(groups.int64(0), 12);
  EXPECT_EQ(groups.int64(1), 8);  // k = all under generation and under both, per manipulation pair and prompt
}

TEST(NiahCli, FixedHeadListsActLikeTheHeadCountsTheyName) {
  // A fixed list naming no head is k = 0 and one naming every head is k = all, bit for bit. Before
  // LensPlan::is_identity knew about fixed lists, a sweep without a recording ran them unmodified.
  const std::string dir = test::temp_dir("niah_fixed");
  const std::string grid = "--lengths 140 --depths 30,90 --sparsify both --max-new-tokens 6 ";
  const test::CliResult by_k = run_cli(niah_args(dir + "/k.db", grid + "--keep 0,all"));
  ASSERT_EQ(by_k.status, 0) << by_k.output;
  int64_t layers = 0, heads = 0;
  {
    SqliteDb d(dir + "/k.db", SqliteDb::Mode::ReadOnly);
    SqliteStatement s = d.prepare("SELECT attention_layers, heads FROM models");
    ASSERT_TRUE(s.step());
    layers = s.int64(0);
    heads = s.int64(1);
  }
  ASSERT_GT(layers, 0);
  std::string every;
  for (int64_t l = 0; l < layers; ++l)
    for (int64_t h = 0; h < heads; ++h) every += std::to_string(l) + "," + std::to_string(h) + "\n";
  test::write_file(dir + "/none.txt", "# no head\n");
  test::write_file(dir + "/every.txt", every);
  const std::string ranks = sh("fixed:" + dir + "/none.txt") + "," + sh("fixed:" + dir + "/every.txt");
  const test::CliResult fixed = run_cli(niah_args(dir + "/f.db", grid + "--rank " + ranks));
  ASSERT_EQ(fixed.status, 0) << fixed.output;

  // (depth, k = 0 or all) -> output ids; fixed lists map to the head count they name.
  auto outputs = [](const std::string& db) {
    std::map<std::pair<double, std::string>, std::string> m;
    SqliteDb d(db, SqliteDb::Mode::ReadOnly);
    SqliteStatement s = d.prepare("SELECT depth_percent, keep_all, rank, output_ids FROM niah_cells");
    while (s.step()) {
      const std::string rank = s.text(2);
      const bool all = rank.rfind("fixed:", 0) == 0 ? rank.find("every.txt") != std::string::npos : s.int64(1) != 0;
      m[{s.real(0), all ? "all" : "0"}] = s.text(3);
    }
    return m;
  };
  const auto k = outputs(dir + "/k.db"), f = outputs(dir + "/f.db");
  ASSERT_EQ(k.size(), 4u);
  EXPECT_EQ(f, k);
  EXPECT_NE(k.at({30.0, "0"}) + k.at({90.0, "0"}), k.at({30.0, "all"}) + k.at({90.0, "all"}))
      << "k = 0 and k = all give the same outputs here, so the comparison shows nothing";
}

TEST(NiahCli, DepthsThatSnapToTheSameSentenceRunOnce) {
  // At 128 tokens, 1% depth falls before the first sentence end: the prompt is the one of depth 0.
  const std::string db = test::temp_dir("niah_same") + "/r.db";
  const test::CliResult r = run_cli(niah_args(db, "--lengths 128 --depths 0,1 --keep 0,all --max-new-tokens 4"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("planner: 1 prefills and 2 decodes for the whole grid instead of 4 each"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("4 cells run (1 prefills, 2 decodes)"), std::string::npos) << r.output;
  SqliteDb d(db, SqliteDb::Mode::ReadOnly);
  SqliteStatement s = d.prepare(
      "SELECT COUNT(*), COUNT(DISTINCT prompt_sha256), SUM(decode_shared), COUNT(DISTINCT depth_percent) "
      "FROM niah_cells");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.int64(0), 4);
  EXPECT_EQ(s.int64(1), 1);
  EXPECT_EQ(s.int64(2), 2);
  EXPECT_EQ(s.int64(3), 2);
}

TEST(NiahCli, KillNineLosesOnlyTheCellInFlight) {
  const std::string db = test::temp_dir("niah_kill") + "/r.db";
  const std::string grid = "--lengths 128,160,192 --depths 0:100:5 --keep 0,1,2,all --sparsify generation,both "
                           "--max-new-tokens 12 --progress-lines";
  const int64_t total = 3 * 5 * 8;
  const std::string cmd = std::string(HL_CLI_PATH) + " " + niah_args(db, grid) + " >/dev/null 2>&1";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until a few cells are committed, then kill without warning.
  int64_t seen = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists(db)) {
      try {
        seen = count_rows(db, "niah_cells");
      } catch (const std::exception&) {
        seen = 0;  // the schema may not exist yet
      }
    }
    if (seen >= 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the sweep ended before it could be killed";
  EXPECT_EQ(integrity(db), "ok");
  const int64_t stored = count_rows(db, "niah_cells");
  EXPECT_GE(stored, seen);
  EXPECT_LT(stored, total);
  {
    SqliteDb d(db, SqliteDb::Mode::ReadOnly);
    SqliteStatement s = d.prepare("SELECT finished_at IS NULL FROM runs");
    ASSERT_TRUE(s.step());
    EXPECT_EQ(s.int64(0), 1);  // the killed run never finished
  }
  const test::CliResult rerun = run_cli(niah_args(db, grid));
  ASSERT_EQ(rerun.status, 0) << rerun.output;
  EXPECT_NE(rerun.output.find(std::to_string(stored) + " already in"), std::string::npos) << rerun.output;
  EXPECT_EQ(count_rows(db, "niah_cells"), total);
  EXPECT_EQ(integrity(db), "ok");
  SqliteDb d(db, SqliteDb::Mode::ReadOnly);
  SqliteStatement s = d.prepare("SELECT cells_skipped, cells_done FROM runs WHERE run_id = 2");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.int64(0), stored);
  EXPECT_EQ(s.int64(1), total - stored);
  SqliteStatement per_run = d.prepare("SELECT COUNT(*) FROM niah_cells WHERE run_id = 2");
  ASSERT_TRUE(per_run.step());
  EXPECT_EQ(per_run.int64(0), total - stored);
}

TEST(NiahCli, BadInputIsOneClearLineAndKeepsTheDatabase) {
  const std::string dir = test::temp_dir("niah_bad");
  const std::string db = dir + "/r.db";
  ASSERT_EQ(run_cli(niah_args(db, "--lengths 128 --depths 50 --max-new-tokens 2")).status, 0);
  const std::string before = test::read_file(db);
  auto expect_error = [&](const std::string& args, const std::string& text) {
    const test::CliResult r = run_cli(args);
    EXPECT_EQ(r.status, 1) << r.output;
    const std::string line = last_line(r.output);
    EXPECT_EQ(line.rfind("hybridlens: error: ", 0), 0u) << r.output;
    EXPECT_NE(line.find(text), std::string::npos) << r.output;
    EXPECT_EQ(count_rows(db, "niah_cells"), 1);
    EXPECT_EQ(integrity(db), "ok");
  };
  std::filesystem::create_directories(dir + "/empty_hay");
  test::write_file(dir + "/empty_hay/notes.md", "not a .txt file");
  expect_error("niah --model " + sh(test::tiny_model_dir()) + " --haystack " + sh(dir + "/empty_hay") +
                   " --db " + sh(db) + " --lengths 128 --depths 50",
               "no .txt files in the haystack directory");
  expect_error(niah_args(db, "--lengths 128,60 --depths 50"), "context length 60 tokens is shorter than");
  test::write_file(dir + "/needles.jsonl",
                   "{\"id\": \"odd\", \"needle\": \"The code\xe2\x96\x81word is 7391.\", \"question\": \"What is "
                   "the code word?\"}\n");
  expect_error(niah_args(db, "--lengths 128 --depths 50 --needles " + sh(dir + "/needles.jsonl")),
               "needle \"odd\"");
  expect_error(niah_args(db, "--lengths 128 --depths 50 --jrt --generation-manipulation omit"), "--jrt");
  expect_error(niah_args(db, "--lengths 128 --keep 2,x"), "--keep");

  // A database written by another schema version is refused and left as it was.
  const std::string old_db = dir + "/old.db";
  {
    SqliteDb raw(old_db, SqliteDb::Mode::ReadWriteCreate);
    raw.exec("CREATE TABLE schema_info (id INTEGER PRIMARY KEY, schema_version INTEGER, application TEXT, "
             "created_at TEXT, created_by TEXT); INSERT INTO schema_info VALUES (1, 3, 'hybridlens', 'x', 'y');");
  }
  const std::string old_bytes = test::read_file(old_db);
  const test::CliResult r = run_cli(niah_args(old_db, "--lengths 128 --depths 50"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(last_line(r.output).find("schema version 3, but this hybridlens reads version 2"), std::string::npos)
      << r.output;
  EXPECT_EQ(test::read_file(old_db), old_bytes);
  EXPECT_FALSE(std::filesystem::exists(old_db + "-wal"));
  const test::CliResult ex = run_cli("export --db " + sh(old_db));
  EXPECT_EQ(ex.status, 1);
  EXPECT_EQ(test::read_file(old_db), old_bytes);
}

}  // namespace
}  // namespace hl
