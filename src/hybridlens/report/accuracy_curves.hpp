#pragma once
// Accuracy versus k: one line per model and phase (and per any other setting that varies, except the
// manipulations: NIAH lines use keep/keep cells only), x = the k values run, "all" at the right end.
#include <vector>

#include "hybridlens/report/line_chart_svg.hpp"
#include "hybridlens/report/mmlu_results.hpp"
#include "hybridlens/report/niah_results.hpp"

namespace hl {

// Chart data; no series when no configuration qualifies. Fixed-list rankings (k decided by a file)
// have no place on a k axis and are left out.
LineChart niah_accuracy_curves(const std::vector<NiahConfig>& configs);
LineChart mmlu_accuracy_curves(const std::vector<MmluConfig>& configs);

}  // namespace hl
