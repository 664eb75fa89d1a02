#include "hybridlens/report/head_entropy_results.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <string>

namespace hl {

std::vector<HeadEntropyMap> load_head_entropy_maps(ResultsDb& db) {
  if (!db.has_head_entropy()) return {};
  const std::string key = kNiahConfigKeySql;
  SqliteStatement s = db.sql().prepare(
      "SELECT " + key + ", e.attention_layer, e.head, AVG(e.entropy_mean), COUNT(*) FROM niah_head_entropy e "
      "JOIN niah_cells c ON c.cell_id = e.cell_id GROUP BY " + key + ", e.attention_layer, e.head");
  struct Value {
    int layer, head;
    double mean;
    int64_t cells;
  };
  std::map<NiahConfigKey, std::vector<Value>> values;
  while (s.step()) {
    const NiahConfigKey k = read_niah_config_key(s);
    constexpr int K = kNiahConfigKeyColumns;
    values[k].push_back(Value{int(s.int64(K)), int(s.int64(K + 1)), s.real(K + 2), s.int64(K + 3)});
  }
  std::vector<HeadEntropyMap> out;
  for (const auto& [k, vs] : values) {
    HeadEntropyMap m;
    m.key = k;
    for (const Value& v : vs) {
      m.attention_layers = std::max(m.attention_layers, v.layer + 1);
      m.heads = std::max(m.heads, v.head + 1);
      m.cells = std::max(m.cells, v.cells);
    }
    m.mean.assign(size_t(m.attention_layers) * size_t(m.heads), std::numeric_limits<double>::quiet_NaN());
    for (const Value& v : vs) m.mean[size_t(v.layer) * size_t(m.heads) + size_t(v.head)] = v.mean;
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(),
            [](const HeadEntropyMap& a, const HeadEntropyMap& b) { return niah_display_order(a.key, b.key); });
  return out;
}

}  // namespace hl
