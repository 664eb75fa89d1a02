#pragma once
// Short names of configurations for figure titles, legends and table rows, and the number formats the
// report uses. Model, phase and k are always named; every other setting only where it varies across
// the database, so labels stay short on the usual sweeps.
#include <string>
#include <utility>
#include <vector>

#include "hybridlens/report/mmlu_results.hpp"
#include "hybridlens/report/niah_results.hpp"

namespace hl {

// "all" for keep_all, "file" for a fixed:FILE ranking (keep_k < 0), else the number.
std::string k_label(int keep_k, bool keep_all);
// The sparsify setting as the paper names the phase: generation, prefill+generation (both), prefill.
std::string phase_label(const std::string& sparsify);
// 0.875 -> "87.5%".
std::string percent(double share, int decimals = 1);
// Fixed-point text; NaN -> "-".
std::string fixed(double v, int decimals);

using Setting = std::pair<std::string, std::string>;  // column name, value

struct NiahVarying {
  bool haystack = false, template_name = false, jrt = false, rank = false, manipulation = false, binary = false,
       max_new_tokens = false;
};
NiahVarying niah_varying(const std::vector<NiahConfig>& configs);
// The settings beyond model, phase and k that vary, in a fixed order.
std::vector<Setting> niah_extra_settings(const NiahConfigKey& k, const NiahVarying& v, bool with_manipulation = true);
// "model · phase · k=K · rank=... · prefill=omit generation=keep".
std::string niah_label(const NiahConfig& c, const NiahVarying& v, bool with_k = true, bool with_manipulation = true);

struct MmluVarying {
  bool data = false, shots = false, rank = false, manipulation = false, binary = false;
};
MmluVarying mmlu_varying(const std::vector<MmluConfig>& configs);
std::vector<Setting> mmlu_extra_settings(const MmluConfig& c, const MmluVarying& v);
std::string mmlu_label(const MmluConfig& c, const MmluVarying& v, bool with_k = true);

}  // namespace hl
