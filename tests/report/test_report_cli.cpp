// hybridlens report end to end: the accuracy table on standard output, --quiet, a version-1 database
// read as it is, and every user error as one line on stderr with a non-zero exit and nothing lost.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "hybridlens/eval/sqlite.hpp"
#include "report/report_db_builder.hpp"
#include "support/fixtures.hpp"

namespace fs = std::filesystem;

namespace hl {
namespace {

using Cell = test::ReportDbBuilder::Cell;

struct Outcome {
  int code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string sh(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

Outcome report(const std::string& args) {
  const std::string dir = test::temp_dir("report_cli_run");
  const std::string cmd = std::string(HL_CLI_PATH) + " report " + args + " >" + dir + "/out 2>" + dir + "/err";
  const int st = std::system(cmd.c_str());
  Outcome o;
  o.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  o.out = slurp(dir + "/out");
  o.err = slurp(dir + "/err");
  return o;
}

void expect_one_error_line(const Outcome& o, const std::string& must_mention) {
  EXPECT_NE(o.code, 0);
  EXPECT_LT(o.code, 128) << "crashed: " << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  EXPECT_EQ(o.err.rfind("hybridlens: error: ", 0), 0u) << o.err;
  EXPECT_NE(o.err.find(must_mention), std::string::npos) << "expected \"" << must_mention << "\" in: " << o.err;
  EXPECT_TRUE(o.out.empty()) << o.out;
}

// A database with two NIAH configurations of one model.
std::string small_db(const std::string& dir) {
  test::ReportDbBuilder b(dir + "/r.db");
  const int64_t m = b.model("alpha", 4, 2);
  for (double d : {0.0, 100.0}) {
    b.niah(Cell{.model_id = m, .heads = 4, .keep_k = 0, .depth = d, .score = d == 0 ? 5.0 : 0.0});
    b.niah(Cell{.model_id = m, .heads = 4, .keep_k = 4, .depth = d, .score = 5});
  }
  return b.path();
}

TEST(ReportCli, PrintsTheAccuracyTableAndWritesThePage) {
  const std::string dir = test::temp_dir("report_cli");
  const std::string db = small_db(dir);
  const std::string before = slurp(db);
  const Outcome o = report("--db " + sh(db) + " --out " + sh(dir + "/out"));
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("NIAH accuracy"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("model  phase         k  accuracy  mean score  cells\n"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("alpha  generation    0     50.0%        2.50      2\n"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("alpha  generation  all    100.0%        5.00      2\n"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("MMLU accuracy"), std::string::npos);
  EXPECT_NE(o.err.find("report: 3 figures and "), std::string::npos) << o.err;
  EXPECT_TRUE(fs::exists(dir + "/out/index.html"));
  EXPECT_EQ(slurp(db), before);  // read only

  const Outcome q = report("--db " + sh(db) + " --out " + sh(dir + "/quiet") + " --quiet");
  ASSERT_EQ(q.code, 0) << q.err;
  EXPECT_TRUE(q.out.empty()) << q.out;
  EXPECT_TRUE(q.err.empty()) << q.err;
  EXPECT_TRUE(fs::exists(dir + "/quiet/index.html"));
}

TEST(ReportCli, ReadsAVersionOneDatabaseWithoutChangingIt) {
  const std::string dir = test::temp_dir("report_cli_v1");
  const std::string db = small_db(dir);
  {
    SqliteDb raw(db, SqliteDb::Mode::ReadWrite);
    raw.exec("DROP TABLE niah_head_entropy; UPDATE schema_info SET schema_version = 1; "
             "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;");
  }
  const std::string before = slurp(db);
  const Outcome o = report("--db " + sh(db) + " --out " + sh(dir + "/out"));
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(slurp(db), before);
  const std::string page = slurp(dir + "/out/index.html");
  EXPECT_NE(page.find("(schema version 1)"), std::string::npos);
  EXPECT_NE(page.find("No data: this database (schema version 1) has no per-head entropy table"), std::string::npos);
}

TEST(ReportCli, UserErrorsAreOneLineAndLoseNothing) {
  const std::string dir = test::temp_dir("report_cli_err");
  const std::string db = small_db(dir);
  expect_one_error_line(report("--db " + sh(dir + "/missing.db") + " --out " + sh(dir + "/o")),
                        "no such results database");
  EXPECT_FALSE(fs::exists(dir + "/o"));  // nothing made for a database that is not there

  std::ofstream(dir + "/file") << "a file";
  expect_one_error_line(report("--db " + sh(db) + " --out " + sh(dir + "/file")), "is not a directory");
  expect_one_error_line(report("--db " + sh(db) + " --out " + sh(dir + "/file/sub")),
                        "cannot create the report directory");
  EXPECT_EQ(slurp(dir + "/file"), "a file");

  std::ofstream(dir + "/notes.db") << std::string(200, 'x');
  expect_one_error_line(report("--db " + sh(dir + "/notes.db") + " --out " + sh(dir + "/o")),
                        "not a SQLite database");

  const std::string future = dir + "/future.db";
  {
    SqliteDb raw(future, SqliteDb::Mode::ReadWriteCreate);
    raw.exec("CREATE TABLE schema_info (id INTEGER PRIMARY KEY, schema_version INTEGER, application TEXT, "
             "created_at TEXT, created_by TEXT); INSERT INTO schema_info VALUES (1, 99, 'hybridlens', 'x', 'y');");
  }
  const std::string future_bytes = slurp(future);
  expect_one_error_line(report("--db " + sh(future) + " --out " + sh(dir + "/o")),
                        "schema version 99, but this hybridlens reads version 2");
  EXPECT_EQ(slurp(future), future_bytes);

  const Outcome missing_out = report("--db " + sh(db));
  EXPECT_EQ(missing_out.code, 2);
  EXPECT_EQ(std::count(missing_out.err.begin(), missing_out.err.end(), '\n'), 1) << missing_out.err;
  EXPECT_NE(missing_out.err.find("--out"), std::string::npos) << missing_out.err;

  if (geteuid() != 0) {  // root writes anywhere; the file-as-parent case above covers it there
    fs::create_directories(dir + "/locked");
    fs::permissions(dir + "/locked", fs::perms::owner_read | fs::perms::owner_exec);
    expect_one_error_line(report("--db " + sh(db) + " --out " + sh(dir + "/locked")), "locked");
    fs::permissions(dir + "/locked", fs::perms::owner_all);
  }
}

TEST(ReportCli, AFailureHalfwayLeavesThePreviousPageWhole) {
  const std::string dir = test::temp_dir("report_cli_half");
  const std::string db = small_db(dir);
  const std::string out = dir + "/out";
  ASSERT_EQ(report("--db " + sh(db) + " --out " + sh(out)).code, 0);
  const std::string page = slurp(out + "/index.html");
  const std::string chart = slurp(out + "/niah_accuracy_vs_k.svg");
  // A directory where a figure goes: that figure cannot be replaced, so the run stops there.
  fs::remove(out + "/niah_heatmap_002.svg");
  fs::create_directories(out + "/niah_heatmap_002.svg");
  const Outcome o = report("--db " + sh(db) + " --out " + sh(out));
  expect_one_error_line(o, "niah_heatmap_002.svg");
  EXPECT_EQ(slurp(out + "/index.html"), page);  // the page is written last
  EXPECT_EQ(slurp(out + "/niah_accuracy_vs_k.svg"), chart);
  for (const auto& e : fs::directory_iterator(out)) EXPECT_NE(e.path().extension(), ".tmp") << e.path();
}

}  // namespace
}  // namespace hl
