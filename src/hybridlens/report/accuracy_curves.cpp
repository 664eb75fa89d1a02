#include "hybridlens/report/accuracy_curves.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include "hybridlens/report/config_labels.hpp"

namespace hl {
namespace {

// The x axis: every k run (below the model's head count) in ascending order, then "all".
struct KAxis {
  std::vector<int> ks;
  bool any_all = false;
  std::vector<std::string> labels() const {
    std::vector<std::string> l;
    for (int k : ks) l.push_back(std::to_string(k));
    if (any_all) l.push_back("all");
    return l;
  }
  size_t index(int k, bool all) const {
    if (all) return ks.size();
    return size_t(std::lower_bound(ks.begin(), ks.end(), k) - ks.begin());
  }
};

template <class C, class KOf, class AllOf, class LineOf, class LabelOf, class AccOf>
LineChart curves(const std::vector<const C*>& cs, KOf k_of, AllOf all_of, LineOf line_of, LabelOf label_of,
                 AccOf acc_of) {
  KAxis axis;
  std::set<int> ks;
  for (const C* c : cs) {
    if (all_of(*c))
      axis.any_all = true;
    else
      ks.insert(k_of(*c));
  }
  axis.ks.assign(ks.begin(), ks.end());
  LineChart chart;
  chart.x_labels = axis.labels();
  std::map<std::string, size_t> line_index;
  for (const C* c : cs) {
    const std::string line = line_of(*c);
    auto [it, fresh] = line_index.try_emplace(line, chart.series.size());
    if (fresh)
      chart.series.push_back(LineSeries{label_of(*c),
                                        std::vector<double>(chart.x_labels.size(),
                                                            std::numeric_limits<double>::quiet_NaN())});
    chart.series[it->second].y[axis.index(k_of(*c), all_of(*c))] = acc_of(*c);
  }
  return chart;
}

// Everything but k.
std::string niah_line_key(const NiahConfigKey& k) {
  return std::to_string(k.model_id) + "|" + k.haystack + "|" + k.template_name + "|" + (k.jrt ? "1" : "0") + "|" +
         k.rank + "|" + k.sparsify + "|" + k.prefill_manipulation + "|" + k.generation_manipulation + "|" +
         (k.binary_layer_mean ? "1" : "0") + "|" + std::to_string(k.max_new_tokens);
}

}  // namespace

LineChart niah_accuracy_curves(const std::vector<NiahConfig>& configs) {
  std::vector<const NiahConfig*> cs;
  for (const NiahConfig& c : configs)
    if (c.key.keep_k >= 0 && c.key.prefill_manipulation == "keep" && c.key.generation_manipulation == "keep")
      cs.push_back(&c);
  std::vector<NiahConfig> kept;
  for (const NiahConfig* c : cs) kept.push_back(*c);
  const NiahVarying v = niah_varying(kept);
  LineChart chart = curves(
      cs, [](const NiahConfig& c) { return c.key.keep_k; }, [](const NiahConfig& c) { return c.keep_all; },
      [](const NiahConfig& c) { return niah_line_key(c.key); },
      [&](const NiahConfig& c) { return niah_label(c, v, false); }, [](const NiahConfig& c) { return c.accuracy(); });
  chart.title = "NIAH accuracy versus k (heads kept per attention layer)";
  chart.x_axis = "k (heads kept per attention layer per token; all = unmodified)";
  chart.y_axis = "accuracy (share of score 5)";
  return chart;
}

LineChart mmlu_accuracy_curves(const std::vector<MmluConfig>& configs) {
  std::vector<const MmluConfig*> cs;
  for (const MmluConfig& c : configs)
    if (c.keep_k >= 0) cs.push_back(&c);
  const MmluVarying v = mmlu_varying(configs);
  LineChart chart = curves(
      cs, [](const MmluConfig& c) { return c.keep_k; }, [](const MmluConfig& c) { return c.keep_all; },
      [](const MmluConfig& c) { return c.line_key(); }, [&](const MmluConfig& c) { return mmlu_label(c, v, false); },
      [](const MmluConfig& c) { return c.accuracy(); });
  chart.title = "MMLU accuracy versus k";
  chart.x_axis = "k (heads kept per attention layer per token; all = unmodified)";
  chart.y_axis = "accuracy";
  return chart;
}

}  // namespace hl
