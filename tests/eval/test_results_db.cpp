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
  EXPECT_NE(err.find("reads version 2 (and upgrades version 1)"), std::string::npos) << err;
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
  for (const char* t : {"schema_info", "runs", "models", "niah_cells", "niah_head_entropy", "mmlu_items",
                        "niah_accuracy", "mmlu_subject_accuracy", "mmlu_accuracy"})
    EXPECT_TRUE(db->sql().table_exists(t)) << t;
  EXPECT_NE(results_schema_sql().find("CREATE TABLE niah_cells"), std::string::npos);
  EXPECT_NE(results_schema_sql().find(results_schema_upgrade_v1_sql()), std::string::npos);
  SqliteStatement v = db->sql().prepare("SELECT schema_version FROM schema_info");
  ASSERT_TRUE(v.step());
  EXPECT_EQ(v.int64(0), 2);
  EXPECT_EQ(db->schema_version(), 2);
  EXPECT_EQ(db->upgraded_from(), 0);
}

// A version-1 file: a version-2 file without niah_head_entropy (the only difference), version 1.
std::string make_v1_file(const std::string& path) {
  {
    auto db = ResultsDb::open(path);
    const int64_t run = db->begin_run("niah", "old", 1);
    ModelRecord m;
    m.dir = "/models/a";
    m.config_sha256 = "x";
    m.name = "a";
    m.architecture = "recurrent_gemma";
    db->insert_niah_cell(sample_cell("old-cell", run, db->model_id(m)));
    db->sql().exec("DROP TABLE niah_head_entropy; UPDATE schema_info SET schema_version = 1;");
  }
  SqliteDb raw(path, SqliteDb::Mode::ReadWrite);
  raw.exec("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;");
  return path;
}

TEST(ResultsDb, ReadsVersionOneAsItIsAndUpgradesItWhenWriting) {
  const std::string path = make_v1_file(test::temp_dir("rdb") + "/v1.db");
  const std::string before = read_bytes(path);
  {
    auto ro = ResultsDb::open_readonly(path);
    EXPECT_EQ(ro->schema_version(), 1);
    EXPECT_FALSE(ro->has_head_entropy());
    EXPECT_EQ(ro->niah_keys().size(), 1u);
  }
  EXPECT_EQ(read_bytes(path), before);  // reading changes nothing

  auto db = ResultsDb::open(path);
  EXPECT_EQ(db->upgraded_from(), 1);
  EXPECT_EQ(db->schema_version(), 2);
  EXPECT_TRUE(db->has_head_entropy());
  EXPECT_EQ(db->niah_keys(), (std::unordered_set<std::string>{"old-cell"}));  // nothing stored was lost
  EXPECT_TRUE(db->niah_keys_with_entropy().empty());
  // The upgraded file takes a cell with entropy; the old cell can get its entropy later.
  NiahCellRecord c = sample_cell("old-cell", 1, 1);
  c.head_entropy.attention_layers = 1;
  c.head_entropy.heads = 4;
  c.head_entropy.prompt_positions = 2;
  c.head_entropy.prompt_sum = {1, 2, 3, 4};
  c.head_entropy.generation_sum = {0, 0, 0, 0};
  db->insert_niah_cell(c);
  EXPECT_EQ(db->niah_keys().size(), 1u);
  EXPECT_EQ(db->niah_keys_with_entropy(), (std::unordered_set<std::string>{"old-cell"}));
  SqliteStatement s = db->sql().prepare(
      "SELECT COUNT(*), SUM(prompt_entropy_mean), COUNT(generation_entropy_mean) FROM niah_head_entropy");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.int64(0), 4);
  EXPECT_DOUBLE_EQ(s.real(1), 5.0);  // (1 + 2 + 3 + 4) / 2 positions
  EXPECT_EQ(s.int64(2), 0);          // no generated positions: NULL
  db.reset();
  auto again = ResultsDb::open(path);
  EXPECT_EQ(again->upgraded_from(), 0);
}

TEST(ResultsDb, RefusesAMalformedEntropyRecordWithoutStoringTheCell) {
  const std::string path = test::temp_dir("rdb") + "/e.db";
  auto db = ResultsDb::open(path);
  NiahCellRecord c = sample_cell("k", db->begin_run("niah", "x", 1), 1);
  ModelRecord m;
  m.dir = "/m";
  m.config_sha256 = "y";
  m.name = "m";
  m.architecture = "jamba";
  c.model_id = db->model_id(m);
  c.head_entropy.attention_layers = 2;
  c.head_entropy.heads = 4;
  c.head_entropy.prompt_positions = 3;
  c.head_entropy.prompt_sum = {1, 2, 3};  // 3 sums for 8 heads
  c.head_entropy.generation_sum = {1, 2, 3};
  EXPECT_NE(error_of([&] { db->insert_niah_cell(c); }).find("per-head entropy"), std::string::npos);
  EXPECT_TRUE(db->niah_keys().empty());  // the cell and its entropy are one transaction
}

}  // namespace
}  // namespace hl
