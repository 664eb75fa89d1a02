#pragma once
// Results databases with known contents for the report tests, written through the ResultsDb writer API
// (the same path niah and mmlu take), so the report's queries meet real rows.
#include <cstdint>
#include <string>
#include <vector>

#include "hybridlens/eval/results_db.hpp"

namespace hl::test {

class ReportDbBuilder {
 public:
  explicit ReportDbBuilder(const std::string& path);
  // A model row; `heads` per attention layer; `window` 0 = global attention.
  int64_t model(const std::string& name, int heads, int attention_layers, int window = 0);
  // One NIAH cell of the given configuration and grid point with the given score; keep_k = heads for all.
  // Settings not named are METHOD.md's defaults (entropy-low, keep/keep, needle "sf").
  struct Cell {
    int64_t model_id = 0;
    int heads = 4;
    int keep_k = 4;
    std::string sparsify = "generation";
    std::string prefill_manipulation = "keep", generation_manipulation = "keep";
    std::string rank = "entropy-low";
    bool jrt = false;
    std::string needle_id = "sf";
    int64_t length = 100;
    double depth = 0;
    double score = 5;
    int64_t needle_begin = 10;  // prompt_tokens is `length`
  };
  void niah(const Cell& c);
  // The same cell with a recorded per-head entropy: entropy[l * heads + h] is the mean over positions
  // (prompt and generation given the same mean).
  void niah_with_entropy(const Cell& c, int attention_layers, const std::vector<double>& entropy);
  // One MMLU item; `config` names the configuration (its config_key).
  struct Item {
    int64_t model_id = 0;
    int heads = 4;
    int keep_k = 4;
    std::string sparsify = "both";
    std::string subject = "astronomy";
    int shots = 0;
    bool correct = true;
  };
  void mmlu(const Item& i);

  ResultsDb& db() { return *db_; }
  const std::string& path() const { return path_; }

 private:
  NiahCellRecord record(const Cell& c);
  std::string path_;
  std::unique_ptr<ResultsDb> db_;
  int64_t run_ = 0;
  int64_t serial_ = 0;
};

}  // namespace hl::test
