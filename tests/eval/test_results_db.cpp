// The results store: schema creation, reopening, refusing foreign or newer files without touching them,
// cell insertion and key lookup; SHA-256 against the FIPS 180-4 examples.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "hybridlens/core/error.hpp"
#include "hybridlens/eval/results_db.hpp"
#include "hybridlens/eval/sha256.hpp"
#include "support/fixtures.hpp"

namespace hl {
namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Sha256, MatchesTheStandardExamples) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 s;  // a million 'a's, fed in uneven pieces
  const std::string chunk(997, 'a');
  size_t left = 1000000;
  while (left > 0) {
    const size_t n = std::min(left, chunk.size());
    s.update(chunk.data(), n);
    left -= n;
  }
  EXPECT_EQ(s.hex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

NiahCellRecord sample_cell(const std::string& key, int64_t run, int64_t model) {
  NiahCellRecord c;
  c.cell_key = key;
  c.run_id = run;
  c.model_id = model;
  c.haystack = "noise";
  c.haystack_sha256 = sha256_hex("noise");
  c.needle_id = "sf";
  c.needle = "The needle.";
  c.question = "What?";
  c.template_name = "base";
  c.template_sha256 = sha256_hex("t");
  c.context_length = 250;
  c.depth_percent = 50;
  c.buffer_tokens = 200;
  c.context_tokens = 50;
  c.prompt_tokens = 70;
  c.prompt_sha256 = sha256_hex("p");
  c.needle_begin = 30;
  c.needle_end = 34;
  c.lens.keep_k = 2;
  c.lens.heads = 4;
  c.max_new_tokens = 40;
  c.output_ids = {5, 6, 7};
  c.output_text = "a \"quoted\", text\nwith a newline";
  c.score = 5;
  c.prefill_group = "g";
  return c;
}

TEST(ResultsDb, CreatesReopensAndSkipsStoredKeys) {
  const std::string path = test::temp_dir("rdb") + "/sub/dir/results.db";
  {
    auto db = ResultsDb::open(path);
    const int64_t run = db->begin_run("niah", "hybridlens niah ...", 2);
    ModelRecord m;
    m.dir = "/models/a";
    m.config_sha256 = "x";
    m.name = "a";
    m.architecture = "recurrent_gemma";
    const int64_t model = db->model_id(m);
    EXPECT_EQ(db->model_id(m), model);
    db->insert_niah_cell(sample_cell("k1", run, model));
    db->insert_niah_cell(sample_cell("k1", run, model));  // same key: ignored
    db->insert_niah_cell(sample_cell("k2", run, model));
    db->finish_run(run, 2, 0, 2);
  }
  auto db = ResultsDb::open(path);
  const auto keys = db->niah_keys();
  EXPECT_EQ(keys.size(), 2u);
  EXPECT_TRUE(keys.count("k1") && keys.count("k2"));
  SqliteStatement s = db->sql().prepare(
      "SELECT output_ids, output_text, correct, keep_all FROM niah_cells WHERE cell_key = 'k1'");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.text(0), "[5,6,7]");
  EXPECT_EQ(s.text(1), "a \"quoted\", text\nwith a newline");
  EXPECT_EQ(s.int64(2), 1);
  EXPECT_EQ(s.int64(3), 0);
  SqliteStatement v = db->sql().prepare("SELECT cells, accuracy FROM niah_accuracy");
  ASSERT_TRUE(v.step());
  EXPECT_EQ(v.int64(0), 2);
  EXPECT_DOUBLE_EQ(v.real(1), 1.0);
  SqliteStatement j = db->sql().prepare("PRAGMA journal_mode");
  ASSERT_TRUE(j.step());
  EXPECT_EQ(j.text(0), "wal");
}

TEST(ResultsDb, RefusesAnotherSchemaVersionAndLeavesTheFileAlone) {
  const std::string path = test::temp_dir("rdb") + "/old.db";
  {
    SqliteDb raw(path, SqliteDb::Mode::ReadWriteCreate);
    raw.exec(
        "CREATE TABLE schema_info (id INTEGER PRIMARY KEY, schema_version INTEGER, application TEXT, "
        "created_at TEXT, created_by TEXT);"
        "INSERT INTO schema_info VALUES (1, 99, 'hybridlens', 'then', 'future');"
        "CREATE TABLE niah_cells (x);");
  }
  const std::string before = read_bytes(path);
  const std::string err = error_of([&] { ResultsDb::open(path); });
  EXPECT_NE(err.find("schema version 99"), std::string::npos) << err;
  EXPECT_NE(err.find("reads version 1"), std::string::npos) << err;
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
  EXPECT_NE(error_of([&] { ResultsDb::open_readonly(path); }).find("schema version 99"), std::string::npos);
}

TEST(ResultsDb, RefusesFilesThatAreNotResultsDatabases) {
  const std::string dir = test::temp_dir("rdb");
  const std::string text = dir + "/notes.db";
  std::ofstream(text) << "these are my notes, not a database, but long enough to have a header page........."
                         "....................................................................\n";
  const std::string before = read_bytes(text);
  EXPECT_NE(error_of([&] { ResultsDb::open(text); }).find("not a SQLite database"), std::string::npos);
  EXPECT_EQ(read_bytes(text), before);

  const std::string other = dir + "/other.db";
  {
    SqliteDb raw(other, SqliteDb::Mode::ReadWriteCreate);
    raw.exec("CREATE TABLE recipes (name TEXT); INSERT INTO recipes VALUES ('soup');");
  }
  const std::string other_before = read_bytes(other);
  EXPECT_NE(error_of([&] { ResultsDb::open(other); }).find("not a hybridlens results database"), std::string::npos);
  EXPECT_EQ(read_bytes(other), other_before);
  EXPECT_NE(error_of([&] { ResultsDb::open_readonly(dir + "/missing.db"); }).find("no such results database"),
            std::string::npos);
}

TEST(ResultsDb, SchemaTextIsWhatTheFileHolds) {
  const std::string path = test::temp_dir("rdb") + "/r.db";
  auto db = ResultsDb::open(path);
  for (const char* t : {"schema_info", "runs", "models", "niah_cells", "mmlu_items", "niah_accuracy",
                        "mmlu_subject_accuracy", "mmlu_accuracy"})
    EXPECT_TRUE(db->sql().table_exists(t)) << t;
  EXPECT_NE(results_schema_sql().find("CREATE TABLE niah_cells"), std::string::npos);
}

}  // namespace
}  // namespace hl
