#include "hybridlens/eval/results_db.hpp"

#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "hybridlens/core/error.hpp"
#include "hybridlens/eval/sha256.hpp"
#include "hybridlens/model/registry.hpp"

namespace fs = std::filesystem;

namespace hl {
namespace {

const char* kSchema = R"SQL(
CREATE TABLE schema_info (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  schema_version INTEGER NOT NULL,
  application TEXT NOT NULL,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL
);
CREATE TABLE runs (
  run_id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('niah', 'mmlu')),
  command_line TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  hybridlens_version TEXT NOT NULL,
  hostname TEXT NOT NULL,
  threads INTEGER NOT NULL,
  cells_planned INTEGER,
  cells_skipped INTEGER,
  cells_done INTEGER
);
CREATE TABLE models (
  model_id INTEGER PRIMARY KEY,
  dir TEXT NOT NULL,
  config_sha256 TEXT NOT NULL,
  name TEXT NOT NULL,
  architecture TEXT NOT NULL,
  layers INTEGER NOT NULL,
  attention_layers INTEGER NOT NULL,
  heads INTEGER NOT NULL,
  kv_heads INTEGER NOT NULL,
  window INTEGER NOT NULL,
  parameters INTEGER NOT NULL,
  vocab INTEGER NOT NULL,
  UNIQUE (dir, config_sha256)
);
CREATE TABLE niah_cells (
  cell_id INTEGER PRIMARY KEY,
  cell_key TEXT NOT NULL UNIQUE,
  run_id INTEGER NOT NULL REFERENCES runs (run_id),
  model_id INTEGER NOT NULL REFERENCES models (model_id),
  haystack TEXT NOT NULL,
  haystack_sha256 TEXT NOT NULL,
  needle_id TEXT NOT NULL,
  needle TEXT NOT NULL,
  question TEXT NOT NULL,
  template TEXT NOT NULL,
  template_sha256 TEXT NOT NULL,
  jrt INTEGER NOT NULL,
  context_length INTEGER NOT NULL,
  depth_percent REAL NOT NULL,
  buffer_tokens INTEGER NOT NULL,
  context_tokens INTEGER NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  prompt_sha256 TEXT NOT NULL,
  needle_begin INTEGER NOT NULL,
  needle_end INTEGER NOT NULL,
  needle_depth_actual REAL NOT NULL,
  keep_k INTEGER NOT NULL,
  heads INTEGER NOT NULL,
  keep_all INTEGER NOT NULL,
  rank TEXT NOT NULL,
  sparsify TEXT NOT NULL,
  prefill_manipulation TEXT NOT NULL,
  generation_manipulation TEXT NOT NULL,
  binary_layer_mean INTEGER NOT NULL,
  max_new_tokens INTEGER NOT NULL,
  output_ids TEXT NOT NULL,
  output_text TEXT NOT NULL,
  new_tokens INTEGER NOT NULL,
  stopped_at_eos INTEGER NOT NULL,
  score REAL NOT NULL,
  correct INTEGER NOT NULL,
  answer_found INTEGER NOT NULL,
  prefill_group TEXT NOT NULL,
  prefill_shared INTEGER NOT NULL,
  decode_shared INTEGER NOT NULL,
  prefill_seconds REAL NOT NULL,
  fork_seconds REAL NOT NULL,
  decode_seconds REAL NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX niah_cells_config ON niah_cells (model_id, keep_k, sparsify, prefill_manipulation, generation_manipulation);
CREATE TABLE mmlu_items (
  item_id INTEGER PRIMARY KEY,
  item_key TEXT NOT NULL UNIQUE,
  config_key TEXT NOT NULL,
  run_id INTEGER NOT NULL REFERENCES runs (run_id),
  model_id INTEGER NOT NULL REFERENCES models (model_id),
  data_dir TEXT NOT NULL,
  subject TEXT NOT NULL,
  question_index INTEGER NOT NULL,
  shots INTEGER NOT NULL,
  keep_k INTEGER NOT NULL,
  heads INTEGER NOT NULL,
  keep_all INTEGER NOT NULL,
  rank TEXT NOT NULL,
  sparsify TEXT NOT NULL,
  prefill_manipulation TEXT NOT NULL,
  generation_manipulation TEXT NOT NULL,
  binary_layer_mean INTEGER NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  prompt_sha256 TEXT NOT NULL,
  answer TEXT NOT NULL CHECK (answer IN ('A', 'B', 'C', 'D')),
  predicted TEXT NOT NULL CHECK (predicted IN ('A', 'B', 'C', 'D')),
  correct INTEGER NOT NULL,
  logprob_a REAL NOT NULL,
  logprob_b REAL NOT NULL,
  logprob_c REAL NOT NULL,
  logprob_d REAL NOT NULL,
  prefix_shared INTEGER NOT NULL,
  seconds REAL NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX mmlu_items_config ON mmlu_items (config_key, subject);
CREATE VIEW niah_accuracy AS
  SELECT model_id, haystack, template, jrt, keep_k, heads, keep_all, rank, sparsify, prefill_manipulation,
         generation_manipulation, binary_layer_mean, max_new_tokens,
         COUNT(*) AS cells, AVG(correct) AS accuracy, AVG(score) AS mean_score
  FROM niah_cells
  GROUP BY model_id, haystack, template, jrt, keep_k, rank, sparsify, prefill_manipulation,
           generation_manipulation, binary_layer_mean, max_new_tokens;
CREATE VIEW mmlu_subject_accuracy AS
  SELECT config_key, model_id, data_dir, shots, keep_k, heads, keep_all, rank, sparsify, prefill_manipulation,
         generation_manipulation, binary_layer_mean, subject,
         COUNT(*) AS questions, SUM(correct) AS correct, AVG(correct) AS accuracy
  FROM mmlu_items
  GROUP BY config_key, subject;
CREATE VIEW mmlu_accuracy AS
  SELECT config_key, model_id, data_dir, shots, keep_k, heads, keep_all, rank, sparsify, prefill_manipulation,
         generation_manipulation, binary_layer_mean,
         COUNT(*) AS subjects, SUM(questions) AS questions, SUM(correct) AS correct,
         1.0 * SUM(correct) / SUM(questions) AS accuracy, AVG(accuracy) AS subject_mean_accuracy
  FROM mmlu_subject_accuracy
  GROUP BY config_key;
)SQL";

// Added in version 2; also what the upgrade of a version-1 file runs.
const char* kHeadEntropySchema = R"SQL(
CREATE TABLE niah_head_entropy (
  cell_id INTEGER NOT NULL REFERENCES niah_cells (cell_id),
  attention_layer INTEGER NOT NULL,
  head INTEGER NOT NULL,
  entropy_mean REAL NOT NULL,
  prompt_entropy_mean REAL NOT NULL,
  generation_entropy_mean REAL,
  prompt_positions INTEGER NOT NULL,
  generation_positions INTEGER NOT NULL,
  PRIMARY KEY (cell_id, attention_layer, head)
) WITHOUT ROWID;
)SQL";

std::string hostname() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

// Checks an existing file through a read-only connection, which writes nothing. Returns its schema
// version (0 for an empty SQLite file, whose schema is still to be created).
int check_existing(const std::string& path) {
  SqliteDb db(path, SqliteDb::Mode::ReadOnly);
  bool has_info = false;
  try {
    has_info = db.table_exists("schema_info");
  } catch (const Error&) {
    fail(path, ": not a SQLite database, so not a hybridlens results database (give another --db file)");
  }
  if (!has_info) {
    SqliteStatement n = db.prepare("SELECT COUNT(*) FROM sqlite_master");
    n.step();
    HL_CHECK(n.int64(0) == 0, path,
             ": a SQLite database without hybridlens's schema_info table, so not a hybridlens results database "
             "(give another --db file)");
    return 0;  // an empty SQLite file: the schema will be created
  }
  SqliteStatement s = db.prepare("SELECT schema_version, application FROM schema_info WHERE id = 1");
  HL_CHECK(s.step(), path, ": schema_info is empty; not a usable hybridlens results database");
  const int64_t version = s.int64(0);
  const std::string app = s.text(1);
  HL_CHECK(app == "hybridlens", path, ": a results database of \"", app, "\", not hybridlens");
  HL_CHECK(version >= kOldestUpgradableSchemaVersion && version <= kResultsSchemaVersion, path,
           ": results database schema version ", version, ", but this hybridlens reads version ",
           kResultsSchemaVersion, " (and upgrades version ", kOldestUpgradableSchemaVersion,
           "); the file was left unchanged (give another --db file, or use the hybridlens that wrote it)");
  return int(version);
}

// Version 1 -> 2: adds niah_head_entropy. One transaction, re-checked inside it (another process may
// have upgraded the file meanwhile); nothing stored is touched.
void upgrade_v1(SqliteDb& db) {
  SqliteTransaction t(db);
  SqliteStatement v = db.prepare("SELECT schema_version FROM schema_info WHERE id = 1");
  HL_CHECK(v.step(), db.path(), ": schema_info is empty; not a usable hybridlens results database");
  const int64_t version = v.int64(0);
  v.reset();
  if (version == 1) {
    db.exec(kHeadEntropySchema);
    SqliteStatement u = db.prepare("UPDATE schema_info SET schema_version = ? WHERE id = 1");
    u.bind(1, kResultsSchemaVersion).run();
  }
  t.commit();
}

bool is_empty_file(const std::string& path) {
  std::error_code ec;
  return fs::file_size(path, ec) == 0 && !ec;
}

// The rows of one cell's per-head entropy; the cell row (new or stored before) is found by its key.
void insert_head_entropy(SqliteDb& db, const std::string& cell_key, const HeadEntropyRecord& e) {
  const size_t n = size_t(e.attention_layers) * size_t(e.heads);
  HL_CHECK(e.prompt_sum.size() == n && e.generation_sum.size() == n && e.prompt_positions > 0, db.path(),
           ": per-head entropy of cell ", cell_key, " has ", e.prompt_sum.size(), " prompt and ",
           e.generation_sum.size(), " generation sums for ", e.attention_layers, " x ", e.heads, " heads");
  SqliteStatement id = db.prepare("SELECT cell_id FROM niah_cells WHERE cell_key = ?");
  id.bind(1, cell_key);
  HL_CHECK(id.step(), db.path(), ": cell ", cell_key, " vanished before its entropy was stored");
  const int64_t cell_id = id.int64(0);
  id.reset();
  SqliteStatement s = db.prepare(
      "INSERT INTO niah_head_entropy (cell_id, attention_layer, head, entropy_mean, prompt_entropy_mean, "
      "generation_entropy_mean, prompt_positions, generation_positions) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT DO NOTHING");
  const double positions = double(e.prompt_positions + e.generation_positions);
  for (int l = 0; l < e.attention_layers; ++l)
    for (int h = 0; h < e.heads; ++h) {
      const size_t i = size_t(l) * size_t(e.heads) + size_t(h);
      s.reset();
      s.bind(1, cell_id).bind(2, l).bind(3, h);
      s.bind(4, (e.prompt_sum[i] + e.generation_sum[i]) / positions);
      s.bind(5, e.prompt_sum[i] / double(e.prompt_positions));
      if (e.generation_positions > 0)
        s.bind(6, e.generation_sum[i] / double(e.generation_positions));
      else
        s.bind_null(6);
      s.bind(7, e.prompt_positions).bind(8, e.generation_positions);
      s.run();
    }
}

void bind_lens(SqliteStatement& s, const InterventionRecord& l) {
  s.bind(":keep_k", l.keep_k)
      .bind(":heads", l.heads)
      .bind(":keep_all", l.keep_k >= l.heads)
      .bind(":rank", l.rank)
      .bind(":sparsify", l.sparsify)
      .bind(":prefill_manipulation", l.prefill_manipulation)
      .bind(":generation_manipulation", l.generation_manipulation)
      .bind(":binary_layer_mean", l.binary_layer_mean);
}

}  // namespace

const std::string& results_schema_sql() {
  static const std::string s = std::string(kSchema) + kHeadEntropySchema;
  return s;
}

const std::string& results_schema_upgrade_v1_sql() {
  static const std::string s = kHeadEntropySchema;
  return s;
}

std::unique_ptr<ResultsDb> ResultsDb::open(const std::string& path) {
  HL_CHECK(!path.empty(), "--db: empty path");
  const bool exists = fs::exists(path);
  HL_CHECK(!exists || fs::is_regular_file(path), path, ": not a regular file (give a database file for --db)");
  const int version = exists && !is_empty_file(path) ? check_existing(path) : 0;
  if (!exists) {
    const fs::path parent = fs::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty()) fs::create_directories(parent, ec);
    HL_CHECK(!ec, parent.string(), ": cannot create the results directory: ", ec.message());
  }
  auto db = std::make_unique<SqliteDb>(path, SqliteDb::Mode::ReadWriteCreate);
  // WAL: a commit is one append to the log, and a reader never sees half of it; a process killed at any
  // moment leaves the last committed transaction intact (the log is replayed or ignored on next open).
  // synchronous=NORMAL keeps that guarantee for process crashes; only an OS crash may drop the last commits.
  {
    SqliteStatement wal = db->prepare("PRAGMA journal_mode=WAL");
    HL_CHECK(wal.step() && wal.text(0) == "wal", path, ": cannot switch the database to WAL journaling");
  }
  db->exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
  int upgraded_from = 0;
  if (version > 0 && version < kResultsSchemaVersion) {
    upgrade_v1(*db);
    upgraded_from = version;
  }
  if (!db->table_exists("schema_info")) {
    SqliteTransaction t(*db);
    if (!db->table_exists("schema_info")) {  // another process may have created it meanwhile
      db->exec(results_schema_sql());
      SqliteStatement s = db->prepare(
          "INSERT INTO schema_info (id, schema_version, application, created_at, created_by) "
          "VALUES (1, ?, 'hybridlens', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 'hybridlens 0.1.0')");
      s.bind(1, kResultsSchemaVersion).run();
    }
    t.commit();
  }
  return std::unique_ptr<ResultsDb>(new ResultsDb(std::move(db), kResultsSchemaVersion, upgraded_from));
}

std::unique_ptr<ResultsDb> ResultsDb::open_readonly(const std::string& path) {
  HL_CHECK(fs::is_regular_file(path), path, ": no such results database");
  HL_CHECK(!is_empty_file(path), path, ": empty file, not a results database");
  const int version = check_existing(path);
  auto db = std::make_unique<SqliteDb>(path, SqliteDb::Mode::ReadOnly);
  HL_CHECK(db->table_exists("schema_info"), path, ": not a hybridlens results database (no schema_info table)");
  return std::unique_ptr<ResultsDb>(new ResultsDb(std::move(db), version, 0));
}

ModelRecord describe_model(const std::string& dir, const ModelInfo& info) {
  ModelRecord m;
  std::error_code ec;
  fs::path abs = fs::weakly_canonical(fs::absolute(dir), ec);
  if (ec) abs = fs::absolute(dir);
  m.dir = abs.string();
  m.config_sha256 = sha256_file((fs::path(dir) / "config.json").string());
  m.name = abs.filename().string();
  if (m.name.empty()) m.name = abs.parent_path().filename().string();
  m.architecture = architecture_of(dir);
  m.layers = int(info.layer_kinds.size());
  m.attention_layers = info.attention_layers();
  m.heads = info.heads;
  m.kv_heads = info.kv_heads;
  m.vocab = info.vocab;
  m.window = info.window;
  m.parameters = info.parameters;
  return m;
}

int64_t ResultsDb::begin_run(const std::string& kind, const std::string& command_line, int threads) {
  SqliteTransaction t(*db_);
  SqliteStatement s = db_->prepare(
      "INSERT INTO runs (kind, command_line, started_at, hybridlens_version, hostname, threads) "
      "VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 'hybridlens 0.1.0', ?, ?)");
  s.bind(1, kind).bind(2, command_line).bind(3, hostname()).bind(4, threads).run();
  const int64_t id = db_->last_insert_rowid();
  t.commit();
  return id;
}

void ResultsDb::finish_run(int64_t run_id, int64_t planned, int64_t skipped, int64_t done) {
  SqliteTransaction t(*db_);
  SqliteStatement s = db_->prepare(
      "UPDATE runs SET finished_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), cells_planned = ?, "
      "cells_skipped = ?, cells_done = ? WHERE run_id = ?");
  s.bind(1, planned).bind(2, skipped).bind(3, done).bind(4, run_id).run();
  t.commit();
}

int64_t ResultsDb::model_id(const ModelRecord& m) {
  SqliteTransaction t(*db_);
  SqliteStatement ins = db_->prepare(
      "INSERT INTO models (dir, config_sha256, name, architecture, layers, attention_layers, heads, kv_heads, "
      "window, parameters, vocab) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (dir, config_sha256) DO NOTHING");
  ins.bind(1, m.dir).bind(2, m.config_sha256).bind(3, m.name).bind(4, m.architecture).bind(5, m.layers);
  ins.bind(6, m.attention_layers).bind(7, m.heads).bind(8, m.kv_heads).bind(9, m.window).bind(10, m.parameters);
  ins.bind(11, m.vocab).run();
  SqliteStatement q = db_->prepare("SELECT model_id FROM models WHERE dir = ? AND config_sha256 = ?");
  q.bind(1, m.dir).bind(2, m.config_sha256);
  HL_CHECK(q.step(), path(), ": model row vanished");
  const int64_t id = q.int64(0);
  q.reset();
  t.commit();
  return id;
}

namespace {
std::unordered_set<std::string> keys_of(SqliteDb& db, const char* sql) {
  std::unordered_set<std::string> keys;
  SqliteStatement s = db.prepare(sql);
  while (s.step()) keys.insert(s.text(0));
  return keys;
}
}  // namespace

std::unordered_set<std::string> ResultsDb::niah_keys() { return keys_of(*db_, "SELECT cell_key FROM niah_cells"); }
std::unordered_set<std::string> ResultsDb::niah_keys_with_entropy() {
  return keys_of(*db_,
                 "SELECT cell_key FROM niah_cells c WHERE c.heads = 0 OR EXISTS "
                 "(SELECT 1 FROM niah_head_entropy e WHERE e.cell_id = c.cell_id)");
}
std::unordered_set<std::string> ResultsDb::mmlu_keys() { return keys_of(*db_, "SELECT item_key FROM mmlu_items"); }

void ResultsDb::insert_niah_cell(const NiahCellRecord& c) {
  SqliteTransaction t(*db_);
  SqliteStatement s = db_->prepare(
      "INSERT INTO niah_cells (cell_key, run_id, model_id, haystack, haystack_sha256, needle_id, needle, question, "
      "template, template_sha256, jrt, context_length, depth_percent, buffer_tokens, context_tokens, prompt_tokens, "
      "prompt_sha256, needle_begin, needle_end, needle_depth_actual, keep_k, heads, keep_all, rank, sparsify, "
      "prefill_manipulation, generation_manipulation, binary_layer_mean, max_new_tokens, output_ids, output_text, "
      "new_tokens, stopped_at_eos, score, correct, answer_found, prefill_group, prefill_shared, decode_shared, "
      "prefill_seconds, fork_seconds, decode_seconds, created_at) VALUES (:cell_key, :run_id, :model_id, :haystack, "
      ":haystack_sha256, :needle_id, :needle, :question, :template, :template_sha256, :jrt, :context_length, "
      ":depth_percent, :buffer_tokens, :context_tokens, :prompt_tokens, :prompt_sha256, :needle_begin, :needle_end, "
      ":needle_depth_actual, :keep_k, :heads, :keep_all, :rank, :sparsify, :prefill_manipulation, "
      ":generation_manipulation, :binary_layer_mean, :max_new_tokens, :output_ids, :output_text, :new_tokens, "
      ":stopped_at_eos, :score, :correct, :answer_found, :prefill_group, :prefill_shared, :decode_shared, "
      ":prefill_seconds, :fork_seconds, :decode_seconds, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) "
      "ON CONFLICT (cell_key) DO NOTHING");
  s.bind(":cell_key", c.cell_key).bind(":run_id", c.run_id).bind(":model_id", c.model_id);
  s.bind(":haystack", c.haystack).bind(":haystack_sha256", c.haystack_sha256);
  s.bind(":needle_id", c.needle_id).bind(":needle", c.needle).bind(":question", c.question);
  s.bind(":template", c.template_name).bind(":template_sha256", c.template_sha256).bind(":jrt", c.jrt);
  s.bind(":context_length", c.context_length).bind(":depth_percent", c.depth_percent);
  s.bind(":buffer_tokens", c.buffer_tokens).bind(":context_tokens", c.context_tokens);
  s.bind(":prompt_tokens", c.prompt_tokens).bind(":prompt_sha256", c.prompt_sha256);
  s.bind(":needle_begin", c.needle_begin).bind(":needle_end", c.needle_end);
  s.bind(":needle_depth_actual", c.needle_depth_actual);
  bind_lens(s, c.lens);
  s.bind(":max_new_tokens", c.max_new_tokens);
  s.bind(":output_ids", nlohmann::json(c.output_ids).dump());
  s.bind(":output_text", c.output_text);
  s.bind(":new_tokens", int64_t(c.output_ids.size())).bind(":stopped_at_eos", c.stopped_at_eos);
  s.bind(":score", c.score).bind(":correct", c.score >= 5.0).bind(":answer_found", c.answer_found);
  s.bind(":prefill_group", c.prefill_group).bind(":prefill_shared", c.prefill_shared);
  s.bind(":decode_shared", c.decode_shared);
  s.bind(":prefill_seconds", c.prefill_seconds).bind(":fork_seconds", c.fork_seconds);
  s.bind(":decode_seconds", c.decode_seconds);
  s.run();
  if (c.head_entropy.recorded()) insert_head_entropy(*db_, c.cell_key, c.head_entropy);
  t.commit();
}

void ResultsDb::insert_mmlu_item(const MmluItemRecord& r) {
  SqliteTransaction t(*db_);
  SqliteStatement s = db_->prepare(
      "INSERT INTO mmlu_items (item_key, config_key, run_id, model_id, data_dir, subject, question_index, shots, "
      "keep_k, heads, keep_all, rank, sparsify, prefill_manipulation, generation_manipulation, binary_layer_mean, "
      "prompt_tokens, prompt_sha256, answer, predicted, correct, logprob_a, logprob_b, logprob_c, logprob_d, "
      "prefix_shared, seconds, created_at) VALUES (:item_key, :config_key, :run_id, :model_id, :data_dir, :subject, "
      ":question_index, :shots, :keep_k, :heads, :keep_all, :rank, :sparsify, :prefill_manipulation, "
      ":generation_manipulation, :binary_layer_mean, :prompt_tokens, :prompt_sha256, :answer, :predicted, :correct, "
      ":logprob_a, :logprob_b, :logprob_c, :logprob_d, :prefix_shared, :seconds, "
      "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) ON CONFLICT (item_key) DO NOTHING");
  s.bind(":item_key", r.item_key).bind(":config_key", r.config_key).bind(":run_id", r.run_id);
  s.bind(":model_id", r.model_id).bind(":data_dir", r.data_dir).bind(":subject", r.subject);
  s.bind(":question_index", r.question_index).bind(":shots", r.shots);
  bind_lens(s, r.lens);
  s.bind(":prompt_tokens", r.prompt_tokens).bind(":prompt_sha256", r.prompt_sha256);
  s.bind(":answer", std::string(1, r.answer)).bind(":predicted", std::string(1, r.predicted));
  s.bind(":correct", r.answer == r.predicted);
  s.bind(":logprob_a", r.logprob[0]).bind(":logprob_b", r.logprob[1]);
  s.bind(":logprob_c", r.logprob[2]).bind(":logprob_d", r.logprob[3]);
  s.bind(":prefix_shared", r.prefix_shared).bind(":seconds", r.seconds);
  s.run();
  t.commit();
}

}  // namespace hl
