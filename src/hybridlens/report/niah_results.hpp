#pragma once
// The NIAH results of a database, per configuration (everything but the grid point and the needle):
// cells, accuracy, mean score, the depth x length grid of mean scores that a heatmap shows, and, for
// models with a sliding attention window, accuracy by how far back the needle is in windows.
// Needles are pooled, as in the niah_accuracy view (docs/results-schema.md).
#include <compare>
#include <cstdint>
#include <string>
#include <vector>

#include "hybridlens/eval/sqlite.hpp"

namespace hl {

// The columns that tell one NIAH configuration from another.
struct NiahConfigKey {
  int64_t model_id = 0;
  std::string haystack, template_name;
  bool jrt = false;
  int keep_k = 0;  // == heads for "all"; -1 for rank fixed:FILE
  std::string rank, sparsify, prefill_manipulation, generation_manipulation;
  bool binary_layer_mean = false;
  int max_new_tokens = 0;
  auto operator<=>(const NiahConfigKey&) const = default;
};

// A cell's needle distance is prompt_tokens - needle_begin: how far the last prompt position (the one
// that predicts the first answer token) reaches back to the needle's first token, both counted; the
// needle starts inside that position's window when the distance is at most the window W. Bucket b
// (0-based) holds distances in (b W, (b+1) W]; the last bucket also holds everything further back.
constexpr int kDistanceBuckets = 4;

struct NiahConfig {
  NiahConfigKey key;
  std::string model_name;  // models.name, with " #id" added where two models share a name
  int heads = 0;           // per attention layer
  bool keep_all = false;
  int64_t cells = 0, correct = 0;
  double score_sum = 0;
  int needles = 0;
  std::vector<double> depths;      // heatmap rows, ascending
  std::vector<int64_t> lengths;    // heatmap columns, ascending
  std::vector<double> mean_score;  // [depths x lengths]; NaN where the grid point was not run
  std::vector<int64_t> grid_cells; // [depths x lengths]; cells pooled into each grid point
  int window = 0;                  // models.window: 0 = global attention or no attention
  std::vector<int64_t> distance_cells, distance_correct;  // [kDistanceBuckets] when window > 0, else empty

  double accuracy() const { return cells > 0 ? double(correct) / double(cells) : 0.0; }
  double mean() const { return cells > 0 ? score_sum / double(cells) : 0.0; }
};

// The niah_cells columns (table alias c) of a NiahConfigKey, in the order read_niah_config_key reads them:
// a query that selects them first and groups by them gets one row per configuration and whatever else it
// groups by.
extern const char* const kNiahConfigKeySql;
constexpr int kNiahConfigKeyColumns = 11;
NiahConfigKey read_niah_config_key(SqliteStatement& s);

// Every configuration in the database, ordered by model, then every setting, then k ("all" last).
std::vector<NiahConfig> load_niah_configs(SqliteDb& db);

// The order configurations are listed in: model, haystack, template, jrt, rank, phase (generation,
// prefill, both), manipulations (keep, omit, only, binary, null), binary mode, token limit, then k.
bool niah_display_order(const NiahConfigKey& a, const NiahConfigKey& b);
// Ranks for listing settings in the paper's order rather than alphabetically.
int sparsify_order(const std::string& sparsify);
int manipulation_order(const std::string& manipulation);

}  // namespace hl
