#include "hybridlens/report/niah_results.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <functional>
#include <tuple>

namespace hl {
namespace {

auto order_tuple(const NiahConfigKey& k) {
  return std::make_tuple(k.model_id, k.haystack, k.template_name, k.jrt, k.rank,
                         sparsify_order(k.sparsify), k.sparsify, manipulation_order(k.prefill_manipulation),
                         manipulation_order(k.generation_manipulation), k.prefill_manipulation,
                         k.generation_manipulation, k.binary_layer_mean, k.max_new_tokens, k.keep_k);
}

struct Point {
  double depth;
  int64_t length;
  int64_t cells;
  double score_sum;
};

}  // namespace

const char* const kNiahConfigKeySql =
    "c.model_id, c.haystack, c.template, c.jrt, c.keep_k, c.rank, c.sparsify, c.prefill_manipulation, "
    "c.generation_manipulation, c.binary_layer_mean, c.max_new_tokens";

NiahConfigKey read_niah_config_key(SqliteStatement& s) {
  NiahConfigKey k;
  k.model_id = s.int64(0);
  k.haystack = s.text(1);
  k.template_name = s.text(2);
  k.jrt = s.int64(3) != 0;
  k.keep_k = int(s.int64(4));
  k.rank = s.text(5);
  k.sparsify = s.text(6);
  k.prefill_manipulation = s.text(7);
  k.generation_manipulation = s.text(8);
  k.binary_layer_mean = s.int64(9) != 0;
  k.max_new_tokens = int(s.int64(10));
  return k;
}

int sparsify_order(const std::string& s) { return s == "generation" ? 0 : s == "prefill" ? 1 : s == "both" ? 2 : 3; }

int manipulation_order(const std::string& m) {
  static const char* order[] = {"keep", "omit", "only", "binary", "null"};
  for (int i = 0; i < 5; ++i)
    if (m == order[i]) return i;
  return 5;
}

bool niah_display_order(const NiahConfigKey& a, const NiahConfigKey& b) { return order_tuple(a) < order_tuple(b); }

std::vector<NiahConfig> load_niah_configs(SqliteDb& db) {
  const std::string key = kNiahConfigKeySql;
  constexpr int K = kNiahConfigKeyColumns;  // the columns after the key start here
  SqliteStatement s = db.prepare(
      "SELECT " + key + ", m.name, c.heads, c.keep_all, m.window, c.depth_percent, c.context_length, COUNT(*), "
      "SUM(c.correct), SUM(c.score), COUNT(DISTINCT c.needle_id) FROM niah_cells c JOIN models m ON m.model_id = "
      "c.model_id GROUP BY " + key + ", c.depth_percent, c.context_length");
  std::map<NiahConfigKey, NiahConfig> by_key;
  std::map<NiahConfigKey, std::vector<Point>> points;
  while (s.step()) {
    const NiahConfigKey k = read_niah_config_key(s);
    NiahConfig& c = by_key[k];
    c.key = k;
    c.model_name = s.text(K);
    c.heads = int(s.int64(K + 1));
    c.keep_all = s.int64(K + 2) != 0;
    c.window = int(s.int64(K + 3));
    const int64_t n = s.int64(K + 6);
    c.cells += n;
    c.correct += s.int64(K + 7);
    c.score_sum += s.real(K + 8);
    c.needles = std::max(c.needles, int(s.int64(K + 9)));
    points[k].push_back(Point{s.real(K + 4), s.int64(K + 5), n, s.real(K + 8)});
  }

  // Windows back, 1-based: ceil(distance / window), capped at the last bucket.
  SqliteStatement d = db.prepare(
      "SELECT " + key + ", MIN((c.prompt_tokens - c.needle_begin + m.window - 1) / m.window, ?1), COUNT(*), "
      "SUM(c.correct) FROM niah_cells c JOIN models m ON m.model_id = c.model_id WHERE m.window > 0 GROUP BY " +
      key + ", " + std::to_string(K + 1));
  d.bind(1, int64_t(kDistanceBuckets));
  while (d.step()) {
    NiahConfig& c = by_key.at(read_niah_config_key(d));
    c.distance_cells.resize(kDistanceBuckets, 0);
    c.distance_correct.resize(kDistanceBuckets, 0);
    const int64_t b = std::clamp<int64_t>(d.int64(K) - 1, 0, kDistanceBuckets - 1);
    c.distance_cells[size_t(b)] += d.int64(K + 1);
    c.distance_correct[size_t(b)] += d.int64(K + 2);
  }

  // Two checkpoints with the same directory name get their ids in their labels.
  std::map<std::string, std::set<int64_t>> ids_of_name;
  for (const auto& [k, c] : by_key) ids_of_name[c.model_name].insert(k.model_id);

  std::vector<NiahConfig> out;
  for (auto& [k, c] : by_key) {
    if (ids_of_name[c.model_name].size() > 1) c.model_name += " #" + std::to_string(k.model_id);
    const std::vector<Point>& ps = points[k];
    for (const Point& p : ps) {
      c.depths.push_back(p.depth);
      c.lengths.push_back(p.length);
    }
    std::sort(c.depths.begin(), c.depths.end());
    c.depths.erase(std::unique(c.depths.begin(), c.depths.end()), c.depths.end());
    std::sort(c.lengths.begin(), c.lengths.end());
    c.lengths.erase(std::unique(c.lengths.begin(), c.lengths.end()), c.lengths.end());
    const size_t C = c.lengths.size();
    c.mean_score.assign(c.depths.size() * C, std::numeric_limits<double>::quiet_NaN());
    c.grid_cells.assign(c.depths.size() * C, 0);
    for (const Point& p : ps) {
      const size_t r = size_t(std::lower_bound(c.depths.begin(), c.depths.end(), p.depth) - c.depths.begin());
      const size_t col = size_t(std::lower_bound(c.lengths.begin(), c.lengths.end(), p.length) - c.lengths.begin());
      c.mean_score[r * C + col] = p.score_sum / double(p.cells);
      c.grid_cells[r * C + col] = p.cells;
    }
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(),
            [](const NiahConfig& a, const NiahConfig& b) { return niah_display_order(a.key, b.key); });
  return out;
}

}  // namespace hl
