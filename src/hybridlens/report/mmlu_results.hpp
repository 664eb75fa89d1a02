#pragma once
// The MMLU results of a database, per configuration (mmlu_items.config_key): questions, correct
// answers and the per-subject split, in the order a report lists them.
#include <cstdint>
#include <string>
#include <vector>

#include "hybridlens/eval/sqlite.hpp"

namespace hl {

struct MmluSubjectResult {
  std::string subject;
  int64_t questions = 0, correct = 0;
  double accuracy() const { return questions > 0 ? double(correct) / double(questions) : 0.0; }
};

struct MmluConfig {
  std::string config_key;
  int64_t model_id = 0;
  std::string model_name;  // models.name, with " #id" added where two models share a name
  int heads = 0;
  std::string data_dir;
  int shots = 0;
  int keep_k = 0;  // == heads for "all"; -1 for rank fixed:FILE
  bool keep_all = false;
  std::string rank, sparsify, prefill_manipulation, generation_manipulation;
  bool binary_layer_mean = false;
  int64_t questions = 0, correct = 0;
  std::vector<MmluSubjectResult> subjects;  // by name

  double accuracy() const { return questions > 0 ? double(correct) / double(questions) : 0.0; }
  // Everything but k: configurations that differ only in k form one accuracy-versus-k line.
  std::string line_key() const;
};

// Ordered by model, data, shots, rank, phase, manipulations, then k ("all" last).
std::vector<MmluConfig> load_mmlu_configs(SqliteDb& db);

// The accuracy of the k = all configuration on the same line as `c` (NaN when there is none), for the
// "share of the unmodified accuracy" column.
double unmodified_accuracy(const std::vector<MmluConfig>& all, const MmluConfig& c);

}  // namespace hl
