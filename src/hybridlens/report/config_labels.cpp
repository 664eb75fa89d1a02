#include "hybridlens/report/config_labels.hpp"

#include <cmath>
#include <cstdio>
#include <set>

namespace hl {
namespace {

template <class T, class F>
bool varies(const std::vector<T>& items, F field) {
  std::set<decltype(field(items.front()))> seen;
  for (const T& i : items) seen.insert(field(i));
  return seen.size() > 1;
}

std::string join(const std::string& head, const std::vector<Setting>& extra) {
  std::string s = head;
  for (const auto& [name, value] : extra) s += " \xc2\xb7 " + name + "=" + value;  // a middle dot
  return s;
}

}  // namespace

std::string k_label(int keep_k, bool keep_all) {
  if (keep_k < 0) return "file";
  return keep_all ? "all" : std::to_string(keep_k);
}

std::string phase_label(const std::string& sparsify) { return sparsify == "both" ? "prefill+generation" : sparsify; }

std::string percent(double share, int decimals) {
  if (std::isnan(share)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f%%", decimals, share * 100.0);
  return buf;
}

std::string fixed(double v, int decimals) {
  if (std::isnan(v)) return "-";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

NiahVarying niah_varying(const std::vector<NiahConfig>& cs) {
  NiahVarying v;
  if (cs.empty()) return v;
  v.haystack = varies(cs, [](const NiahConfig& c) { return c.key.haystack; });
  v.template_name = varies(cs, [](const NiahConfig& c) { return c.key.template_name; });
  v.jrt = varies(cs, [](const NiahConfig& c) { return c.key.jrt; });
  v.rank = varies(cs, [](const NiahConfig& c) { return c.key.rank; });
  v.manipulation = varies(cs, [](const NiahConfig& c) {
    return c.key.prefill_manipulation + "/" + c.key.generation_manipulation;
  });
  v.binary = varies(cs, [](const NiahConfig& c) { return c.key.binary_layer_mean; });
  v.max_new_tokens = varies(cs, [](const NiahConfig& c) { return c.key.max_new_tokens; });
  return v;
}

std::vector<Setting> niah_extra_settings(const NiahConfigKey& k, const NiahVarying& v, bool with_manipulation) {
  std::vector<Setting> s;
  if (v.haystack) s.emplace_back("haystack", k.haystack);
  if (v.template_name) s.emplace_back("template", k.template_name);
  if (v.jrt) s.emplace_back("jrt", k.jrt ? "yes" : "no");
  if (v.rank) s.emplace_back("rank", k.rank);
  if (v.manipulation && with_manipulation) {
    s.emplace_back("prefill", k.prefill_manipulation);
    s.emplace_back("generation", k.generation_manipulation);
  }
  if (v.binary) s.emplace_back("binary", k.binary_layer_mean ? "layer-mean" : "per-head");
  if (v.max_new_tokens) s.emplace_back("max-new-tokens", std::to_string(k.max_new_tokens));
  return s;
}

std::string niah_label(const NiahConfig& c, const NiahVarying& v, bool with_k, bool with_manipulation) {
  std::string head = c.model_name + " \xc2\xb7 " + phase_label(c.key.sparsify);
  if (with_k) head += " \xc2\xb7 k=" + k_label(c.key.keep_k, c.keep_all);
  return join(head, niah_extra_settings(c.key, v, with_manipulation));
}

MmluVarying mmlu_varying(const std::vector<MmluConfig>& cs) {
  MmluVarying v;
  if (cs.empty()) return v;
  v.data = varies(cs, [](const MmluConfig& c) { return c.data_dir; });
  v.shots = varies(cs, [](const MmluConfig& c) { return c.shots; });
  v.rank = varies(cs, [](const MmluConfig& c) { return c.rank; });
  v.manipulation = varies(cs, [](const MmluConfig& c) {
    return c.prefill_manipulation + "/" + c.generation_manipulation;
  });
  v.binary = varies(cs, [](const MmluConfig& c) { return c.binary_layer_mean; });
  return v;
}

std::vector<Setting> mmlu_extra_settings(const MmluConfig& c, const MmluVarying& v) {
  std::vector<Setting> s;
  if (v.data) s.emplace_back("data", c.data_dir);
  if (v.shots) s.emplace_back("shots", std::to_string(c.shots));
  if (v.rank) s.emplace_back("rank", c.rank);
  if (v.manipulation) {
    s.emplace_back("prefill", c.prefill_manipulation);
    s.emplace_back("generation", c.generation_manipulation);
  }
  if (v.binary) s.emplace_back("binary", c.binary_layer_mean ? "layer-mean" : "per-head");
  return s;
}

std::string mmlu_label(const MmluConfig& c, const MmluVarying& v, bool with_k) {
  std::string head = c.model_name + " \xc2\xb7 " + phase_label(c.sparsify);
  if (with_k) head += " \xc2\xb7 k=" + k_label(c.keep_k, c.keep_all);
  return join(head, mmlu_extra_settings(c, v));
}

}  // namespace hl
