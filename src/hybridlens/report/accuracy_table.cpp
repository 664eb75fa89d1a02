#include "hybridlens/report/accuracy_table.hpp"

#include <map>

#include "hybridlens/report/config_labels.hpp"

namespace hl {

namespace {

// A NIAH table's first columns: model, phase, k and the settings that vary; then `numbers` (right-aligned).
Table niah_table_head(const std::vector<NiahConfig>& configs, const NiahVarying& v,
                      const std::vector<std::string>& numbers) {
  Table t;
  t.header = {"model", "phase", "k"};
  if (!configs.empty())
    for (const auto& [name, value] : niah_extra_settings(configs.front().key, v)) t.header.push_back(name);
  t.numeric.assign(t.header.size(), false);
  t.numeric[2] = true;
  for (const std::string& h : numbers) {
    t.header.push_back(h);
    t.numeric.push_back(true);
  }
  return t;
}

std::vector<std::string> niah_row_head(const NiahConfig& c, const NiahVarying& v) {
  std::vector<std::string> row = {c.model_name, phase_label(c.key.sparsify), k_label(c.key.keep_k, c.keep_all)};
  for (const auto& [name, value] : niah_extra_settings(c.key, v)) row.push_back(value);
  return row;
}

}  // namespace

Table niah_accuracy_table(const std::vector<NiahConfig>& configs) {
  const NiahVarying v = niah_varying(configs);
  Table t = niah_table_head(configs, v, {"accuracy", "mean score", "cells"});
  for (const NiahConfig& c : configs) {
    std::vector<std::string> row = niah_row_head(c, v);
    row.push_back(percent(c.accuracy()));
    row.push_back(fixed(c.mean(), 2));
    row.push_back(std::to_string(c.cells));
    t.rows.push_back(std::move(row));
  }
  return t;
}

Table niah_distance_table(const std::vector<NiahConfig>& configs) {
  static const char* bucket_names[kDistanceBuckets] = {"<= W", "W+1..2W", "2W+1..3W", "> 3W"};
  std::vector<bool> bucket_used(kDistanceBuckets, false);
  for (const NiahConfig& c : configs)
    for (size_t b = 0; b < c.distance_cells.size(); ++b)
      if (c.distance_cells[b] > 0) bucket_used[b] = true;
  std::vector<std::string> numbers = {"window W"};
  for (size_t b = 0; b < size_t(kDistanceBuckets); ++b)
    if (bucket_used[b]) numbers.push_back(bucket_names[b]);
  const NiahVarying v = niah_varying(configs);
  Table t = niah_table_head(configs, v, numbers);
  for (const NiahConfig& c : configs) {
    if (c.window <= 0 || c.distance_cells.empty()) continue;
    std::vector<std::string> row = niah_row_head(c, v);
    row.push_back(std::to_string(c.window));
    for (size_t b = 0; b < size_t(kDistanceBuckets); ++b) {
      if (!bucket_used[b]) continue;
      const int64_t n = c.distance_cells[b];
      row.push_back(n > 0 ? percent(double(c.distance_correct[b]) / double(n)) + " (" + std::to_string(n) + ")" : "-");
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

Table mmlu_accuracy_table(const std::vector<MmluConfig>& configs) {
  const MmluVarying v = mmlu_varying(configs);
  Table t;
  t.header = {"model", "phase", "k"};
  if (!configs.empty())
    for (const auto& [name, value] : mmlu_extra_settings(configs.front(), v)) t.header.push_back(name);
  t.numeric.assign(t.header.size(), false);
  t.numeric[2] = true;
  for (const char* h : {"accuracy", "of k=all", "correct", "questions"}) {
    t.header.push_back(h);
    t.numeric.push_back(true);
  }
  for (const MmluConfig& c : configs) {
    std::vector<std::string> row = {c.model_name, phase_label(c.sparsify), k_label(c.keep_k, c.keep_all)};
    for (const auto& [name, value] : mmlu_extra_settings(c, v)) row.push_back(value);
    const double base = unmodified_accuracy(configs, c);
    row.push_back(percent(c.accuracy()));
    row.push_back(base > 0 ? percent(c.accuracy() / base) : "-");
    row.push_back(std::to_string(c.correct));
    row.push_back(std::to_string(c.questions));
    t.rows.push_back(std::move(row));
  }
  return t;
}

Table mmlu_subject_table(const std::vector<MmluConfig>& configs) {
  const MmluVarying v = mmlu_varying(configs);
  Table t;
  t.header = {"subject"};
  t.numeric = {false};
  std::map<std::string, std::vector<std::string>> rows;  // subject -> cells
  for (size_t i = 0; i < configs.size(); ++i) {
    t.header.push_back(mmlu_label(configs[i], v));
    t.numeric.push_back(true);
    for (const MmluSubjectResult& s : configs[i].subjects) {
      auto& row = rows[s.subject];
      row.resize(configs.size(), "-");
      row[i] = percent(s.accuracy()) + " (" + std::to_string(s.correct) + "/" + std::to_string(s.questions) + ")";
    }
  }
  for (auto& [subject, cells] : rows) {
    cells.resize(configs.size(), "-");
    std::vector<std::string> row = {subject};
    row.insert(row.end(), cells.begin(), cells.end());
    t.rows.push_back(std::move(row));
  }
  std::vector<std::string> all = {"all subjects"};
  for (const MmluConfig& c : configs)
    all.push_back(percent(c.accuracy()) + " (" + std::to_string(c.correct) + "/" + std::to_string(c.questions) + ")");
  if (!configs.empty()) t.rows.push_back(std::move(all));
  return t;
}

std::string accuracy_text(const std::vector<NiahConfig>& niah, const std::vector<MmluConfig>& mmlu) {
  std::string s = "NIAH accuracy (share of cells scoring 5 of 5; needles and grid points pooled):\n";
  s += niah.empty() ? "  no data\n" : render_text(niah_accuracy_table(niah));
  const Table by_distance = niah_distance_table(niah);
  if (!by_distance.rows.empty())
    s += "\nNIAH accuracy by needle distance, for models with a local attention window W (distance: from the last "
         "prompt position back to the needle's first token; cells in brackets):\n" +
         render_text(by_distance);
  s += "\nMMLU accuracy (share of questions answered correctly; of k=all: share of the unmodified model's):\n";
  s += mmlu.empty() ? "  no data\n" : render_text(mmlu_accuracy_table(mmlu));
  return s;
}

}  // namespace hl
