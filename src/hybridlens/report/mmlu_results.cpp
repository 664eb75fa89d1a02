#include "hybridlens/report/mmlu_results.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <functional>
#include <tuple>

#include "hybridlens/report/niah_results.hpp"

namespace hl {

std::string MmluConfig::line_key() const {
  return std::to_string(model_id) + "|" + data_dir + "|" + std::to_string(shots) + "|" + rank + "|" + sparsify + "|" +
         prefill_manipulation + "|" + generation_manipulation + "|" + (binary_layer_mean ? "1" : "0");
}

std::vector<MmluConfig> load_mmlu_configs(SqliteDb& db) {
  SqliteStatement s = db.prepare(
      "SELECT i.config_key, i.model_id, m.name, i.heads, i.data_dir, i.shots, i.keep_k, i.keep_all, i.rank, "
      "i.sparsify, i.prefill_manipulation, i.generation_manipulation, i.binary_layer_mean, i.subject, COUNT(*), "
      "SUM(i.correct) FROM mmlu_items i JOIN models m ON m.model_id = i.model_id "
      "GROUP BY i.config_key, i.subject ORDER BY i.config_key, i.subject");
  std::map<std::string, MmluConfig> by_key;
  while (s.step()) {
    MmluConfig& c = by_key[s.text(0)];
    c.config_key = s.text(0);
    c.model_id = s.int64(1);
    c.model_name = s.text(2);
    c.heads = int(s.int64(3));
    c.data_dir = s.text(4);
    c.shots = int(s.int64(5));
    c.keep_k = int(s.int64(6));
    c.keep_all = s.int64(7) != 0;
    c.rank = s.text(8);
    c.sparsify = s.text(9);
    c.prefill_manipulation = s.text(10);
    c.generation_manipulation = s.text(11);
    c.binary_layer_mean = s.int64(12) != 0;
    MmluSubjectResult r{s.text(13), s.int64(14), s.int64(15)};
    c.questions += r.questions;
    c.correct += r.correct;
    c.subjects.push_back(std::move(r));
  }
  std::map<std::string, std::set<int64_t>> ids_of_name;
  for (const auto& [key, c] : by_key) ids_of_name[c.model_name].insert(c.model_id);
  std::vector<MmluConfig> out;
  for (auto& [key, c] : by_key) {
    if (ids_of_name[c.model_name].size() > 1) c.model_name += " #" + std::to_string(c.model_id);
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const MmluConfig& a, const MmluConfig& b) {
    const auto order = [](const MmluConfig& c) {
      return std::make_tuple(c.model_id, c.data_dir, c.shots, c.rank, sparsify_order(c.sparsify),
                             c.sparsify, manipulation_order(c.prefill_manipulation),
                             manipulation_order(c.generation_manipulation), c.prefill_manipulation,
                             c.generation_manipulation, c.binary_layer_mean, c.keep_k);
    };
    return order(a) < order(b);
  });
  return out;
}

double unmodified_accuracy(const std::vector<MmluConfig>& all, const MmluConfig& c) {
  const std::string line = c.line_key();
  for (const MmluConfig& o : all)
    if (o.keep_all && o.line_key() == line) return o.accuracy();
  return std::numeric_limits<double>::quiet_NaN();
}

}  // namespace hl
