#pragma once
// The results store: one SQLite file holding every NIAH cell and MMLU item a run produced, with the
// model, every setting, the prompt hash, outputs, scores and timings (docs/results-schema.md).
// Each cell is committed in its own transaction in WAL mode, so killing the process loses at most the
// cells in flight; a rerun skips every cell whose key is already stored.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "hybridlens/eval/sqlite.hpp"
#include "hybridlens/model/model.hpp"

namespace hl {

// Version 2 added niah_head_entropy. A version-1 file is read as it is (it has no entropy) and upgraded
// in place to version 2 when opened for writing (one transaction that only adds the table).
inline constexpr int kResultsSchemaVersion = 2;
inline constexpr int kOldestUpgradableSchemaVersion = 1;

// One checkpoint as the results refer to it.
struct ModelRecord {
  std::string dir;            // absolute path
  std::string config_sha256;  // of config.json's bytes
  std::string name;           // the directory's last component, for labels
  std::string architecture;   // recurrent_gemma, jamba, mamba
  int layers = 0, attention_layers = 0, heads = 0, kv_heads = 0, vocab = 0;
  int64_t window = 0, parameters = 0;
};

// Describes the checkpoint in `dir` for the store (reads config.json; the info comes from the loaded model).
ModelRecord describe_model(const std::string& dir, const ModelInfo& info);

// The intervention of a cell or item, as stored (names as the CLI spells them).
struct InterventionRecord {
  int keep_k = 0;  // heads kept per attention layer; == heads for "all"
  int heads = 0;   // heads per attention layer of the model (0 without attention)
  std::string rank = "entropy-low";
  std::string sparsify = "generation";
  std::string prefill_manipulation = "keep";
  std::string generation_manipulation = "keep";
  bool binary_layer_mean = false;
};

// Per-head attention entropy of one NIAH cell (niah --record-entropy): sums over positions, in nats,
// per (attention layer, head), row-major [attention_layers, heads].
struct HeadEntropyRecord {
  int attention_layers = 0, heads = 0;  // 0: nothing recorded
  int64_t prompt_positions = 0, generation_positions = 0;
  std::vector<double> prompt_sum, generation_sum;
  bool recorded() const { return attention_layers > 0 && heads > 0; }
};

struct NiahCellRecord {
  std::string cell_key;
  int64_t run_id = 0, model_id = 0;
  // prompt
  std::string haystack, haystack_sha256;
  std::string needle_id, needle, question;
  std::string template_name, template_sha256;
  bool jrt = false;
  int64_t context_length = 0;  // requested length L in tokens
  double depth_percent = 0;    // requested depth
  int64_t buffer_tokens = 0;
  int64_t context_tokens = 0;  // haystack + needle tokens, <= L - buffer
  int64_t prompt_tokens = 0;   // the whole prompt, BOS included
  std::string prompt_sha256;   // of the prompt token ids (int32 little-endian)
  int64_t needle_begin = 0, needle_end = 0;  // token positions [begin, end) of the (first) needle
  double needle_depth_actual = 0;            // percent of haystack tokens before the needle
  InterventionRecord lens;
  int max_new_tokens = 0;
  // output
  std::vector<int32_t> output_ids;
  std::string output_text;
  bool stopped_at_eos = false;
  double score = 0;  // 0..5
  bool answer_found = false;
  // planner and timings
  std::string prefill_group;
  bool prefill_shared = false;
  bool decode_shared = false;
  double prefill_seconds = 0, fork_seconds = 0, decode_seconds = 0;
  // optional: stored in niah_head_entropy with the cell when recorded()
  HeadEntropyRecord head_entropy;
};

struct MmluItemRecord {
  std::string item_key, config_key;
  int64_t run_id = 0, model_id = 0;
  std::string data_dir, subject;
  int64_t question_index = 0;  // 0-based row of {subject}_test.csv
  int shots = 0;
  InterventionRecord lens;
  int64_t prompt_tokens = 0;
  std::string prompt_sha256;
  char answer = 'A', predicted = 'A';
  double logprob[4] = {0, 0, 0, 0};
  bool prefix_shared = false;
  double seconds = 0;
};

class ResultsDb {
 public:
  // Opens `path`, creating it (and its directory) when absent. An existing file is first checked
  // through a read-only connection: not SQLite, not a hybridlens store, or a schema version other than
  // 1 or 2 -> hl::Error, and the file is left byte-for-byte as it was. A version-1 file is upgraded to
  // version 2 in one transaction that adds niah_head_entropy (upgraded_from() then says 1).
  static std::unique_ptr<ResultsDb> open(const std::string& path);
  // Opens an existing store read-only (export, report); same checks, but a version-1 file is read as it
  // is (schema_version() says 1; it has no niah_head_entropy table).
  static std::unique_ptr<ResultsDb> open_readonly(const std::string& path);

  int schema_version() const { return schema_version_; }
  // The version the file had before open() upgraded it; 0 when it was not upgraded.
  int upgraded_from() const { return upgraded_from_; }
  bool has_head_entropy() { return db_->table_exists("niah_head_entropy"); }

  int64_t begin_run(const std::string& kind, const std::string& command_line, int threads);
  void finish_run(int64_t run_id, int64_t planned, int64_t skipped, int64_t done);
  int64_t model_id(const ModelRecord& m);

  std::unordered_set<std::string> niah_keys();
  // Keys of cells that have their per-head entropy stored, or whose model has no attention heads.
  std::unordered_set<std::string> niah_keys_with_entropy();
  // Inserts one cell in its own transaction; a key already present is left as it is. A recorded
  // head_entropy goes into niah_head_entropy in the same transaction (also for a cell stored before
  // without one; rows already present are left as they are).
  void insert_niah_cell(const NiahCellRecord& c);

  std::unordered_set<std::string> mmlu_keys();
  void insert_mmlu_item(const MmluItemRecord& r);

  SqliteDb& sql() { return *db_; }
  const std::string& path() const { return db_->path(); }

 private:
  ResultsDb(std::unique_ptr<SqliteDb> db, int version, int upgraded_from)
      : db_(std::move(db)), schema_version_(version), upgraded_from_(upgraded_from) {}
  std::unique_ptr<SqliteDb> db_;
  int schema_version_ = kResultsSchemaVersion;
  int upgraded_from_ = 0;
};

// The DDL of schema version kResultsSchemaVersion (tables, indexes, views), for docs and tests.
const std::string& results_schema_sql();
// What the upgrade from version 1 to 2 runs (besides setting schema_version).
const std::string& results_schema_upgrade_v1_sql();

}  // namespace hl
