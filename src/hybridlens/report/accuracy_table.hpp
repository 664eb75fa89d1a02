#pragma once
// The accuracy tables: NIAH (model x phase x k [x other settings that vary] -> accuracy, mean score,
// cells) and MMLU (-> accuracy, share of the k = all accuracy, questions). The same rows feed the
// terminal (hybridlens report prints them) and the HTML page.
#include <string>
#include <vector>

#include "hybridlens/report/mmlu_results.hpp"
#include "hybridlens/report/niah_results.hpp"
#include "hybridlens/report/table.hpp"

namespace hl {

Table niah_accuracy_table(const std::vector<NiahConfig>& configs);
// The configurations of models with a local attention window, accuracy per needle distance bucket
// (niah_results.hpp); only the buckets some configuration has cells in get a column.
Table niah_distance_table(const std::vector<NiahConfig>& configs);
Table mmlu_accuracy_table(const std::vector<MmluConfig>& configs);
// Rows: subjects, then "all subjects"; columns: one per configuration.
Table mmlu_subject_table(const std::vector<MmluConfig>& configs);

// Both tables as plain text with their headings, "no data" where the database has none; the NIAH
// distance table after the NIAH table where it has rows.
std::string accuracy_text(const std::vector<NiahConfig>& niah, const std::vector<MmluConfig>& mmlu);

}  // namespace hl
