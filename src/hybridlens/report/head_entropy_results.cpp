#include "hybridlens/report/head_entropy_results.hpp"

#include <algorithm>
#include <limits>
#include <map>

namespace hl {

std::vector<HeadEntropyMap> load_head_entropy_maps(ResultsDb& db) {
  if (!db.has_head_entropy()) return {};
  SqliteStatement s = db.sql().prepare(
      "SELECT c.model_id, c.haystack, c.template, c.jrt, c.keep_k, c.rank, c.sparsify, c.prefill_manipulation, "
      "c.generation_manipulation, c.binary_layer_mean, c.max_new_tokens, e.attention_layer, e.head, "
      "AVG(e.entropy_mean), COUNT(*) FROM niah_head_entropy e JOIN niah_cells c ON c.cell_id = e.cell_id "
      "GROUP BY c.model_id, c.haystack, c.template, c.jrt, c.keep_k, c.rank, c.sparsify, c.prefill_manipulation, "
      "c.generation_manipulation, c.binary_layer_mean, c.max_new_tokens, e.attention_layer, e.head");
  struct Value {
    int layer, head;
    double mean;
    int64_t cells;
  };
  std::map<NiahConfigKey, std::vector<Value>> values;
  while (s.step()) {
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
    values[k].push_back(Value{int(s.int64(11)), int(s.int64(12)), s.real(13), s.int64(14)});
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
