#include "hybridlens/report/manipulation_table.hpp"

#include <algorithm>
#include <limits>
#include <map>

#include "hybridlens/report/config_labels.hpp"

namespace hl {
namespace {

void add_sorted(std::vector<std::string>& names, const std::string& m) {
  if (std::find(names.begin(), names.end(), m) != names.end()) return;
  names.push_back(m);
  std::stable_sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    return manipulation_order(a) != manipulation_order(b) ? manipulation_order(a) < manipulation_order(b) : a < b;
  });
}

size_t index_of(const std::vector<std::string>& names, const std::string& m) {
  return size_t(std::find(names.begin(), names.end(), m) - names.begin());
}

}  // namespace

std::vector<ManipulationTable> manipulation_tables(const std::vector<NiahConfig>& configs) {
  const NiahVarying v = niah_varying(configs);
  std::map<NiahConfigKey, std::vector<const NiahConfig*>> groups;
  std::vector<NiahConfigKey> order;
  for (const NiahConfig& c : configs) {
    NiahConfigKey k = c.key;
    k.prefill_manipulation = k.generation_manipulation = "";
    auto [it, fresh] = groups.try_emplace(k);
    if (fresh) order.push_back(k);
    it->second.push_back(&c);
  }
  std::vector<ManipulationTable> out;
  for (const NiahConfigKey& k : order) {
    const auto& cs = groups[k];
    const bool any = std::any_of(cs.begin(), cs.end(), [](const NiahConfig* c) {
      return c->key.prefill_manipulation != "keep" || c->key.generation_manipulation != "keep";
    });
    if (!any) continue;
    ManipulationTable t;
    t.label = niah_label(*cs.front(), v, true, false);
    for (const NiahConfig* c : cs) {
      add_sorted(t.prefill, c->key.prefill_manipulation);
      add_sorted(t.generation, c->key.generation_manipulation);
    }
    const size_t C = t.generation.size();
    t.accuracy.assign(t.prefill.size() * C, std::numeric_limits<double>::quiet_NaN());
    t.cells.assign(t.prefill.size() * C, 0);
    for (const NiahConfig* c : cs) {
      const size_t at = index_of(t.prefill, c->key.prefill_manipulation) * C +
                        index_of(t.generation, c->key.generation_manipulation);
      t.accuracy[at] = c->accuracy();
      t.cells[at] = c->cells;
    }
    out.push_back(std::move(t));
  }
  return out;
}

Table to_table(const ManipulationTable& m) {
  Table t;
  t.header = {"prefill \\ generation"};
  t.numeric = {false};
  for (const std::string& g : m.generation) {
    t.header.push_back(g);
    t.numeric.push_back(true);
  }
  const size_t C = m.generation.size();
  for (size_t r = 0; r < m.prefill.size(); ++r) {
    std::vector<std::string> row = {m.prefill[r]};
    for (size_t c = 0; c < C; ++c)
      row.push_back(m.cells[r * C + c] == 0 ? "-"
                                            : percent(m.accuracy[r * C + c]) + " (" +
                                                  std::to_string(m.cells[r * C + c]) + ")");
    t.rows.push_back(std::move(row));
  }
  return t;
}

}  // namespace hl
