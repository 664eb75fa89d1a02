#pragma once
// Per-head attention entropy recorded by `niah --record-entropy` (niah_head_entropy), averaged over the
// cells of each NIAH configuration: one attention layer x head map per configuration.
#include <cstdint>
#include <vector>

#include "hybridlens/eval/results_db.hpp"
#include "hybridlens/report/niah_results.hpp"

namespace hl {

struct HeadEntropyMap {
  NiahConfigKey key;
  int attention_layers = 0, heads = 0;
  std::vector<double> mean;  // [attention_layers x heads], nats; NaN where nothing was recorded
  int64_t cells = 0;         // cells averaged (the most over the heads)
};

// Empty when the database has no niah_head_entropy table (schema version 1) or no rows in it.
// Ordered as niah_display_order orders configurations.
std::vector<HeadEntropyMap> load_head_entropy_maps(ResultsDb& db);

}  // namespace hl
