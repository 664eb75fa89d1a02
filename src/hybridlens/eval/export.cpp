#include "hybridlens/eval/export.hpp"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "hybridlens/core/error.hpp"
#include "hybridlens/eval/csv.hpp"

namespace hl {
namespace {

std::string real_text(double v) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

constexpr int kInteger = 1, kFloat = 2, kText = 3, kNull = 5;

}  // namespace

const std::vector<std::string>& exportable_tables() {
  static const std::vector<std::string> t{"niah_cells", "niah_accuracy", "niah_head_entropy", "mmlu_items",
                                          "mmlu_subject_accuracy", "mmlu_accuracy", "runs", "models"};
  return t;
}

int64_t export_table(ResultsDb& db, const std::string& table, const std::string& format, std::ostream& out) {
  const auto& known = exportable_tables();
  if (std::find(known.begin(), known.end(), table) == known.end()) {
    std::string list;
    for (const std::string& t : known) list += (list.empty() ? "" : ", ") + t;
    fail("--table: unknown table \"", table, "\" (known: ", list, ")");
  }
  HL_CHECK(format == "csv" || format == "jsonl", "--format: expected csv or jsonl, got \"", format, "\"");
  HL_CHECK(table != "niah_head_entropy" || db.has_head_entropy(), "--table niah_head_entropy: this database has "
           "schema version ", db.schema_version(), " and no per-head entropy; a niah run with --record-entropy "
           "upgrades it and adds the table");
  const char* order = table == "niah_cells"          ? " ORDER BY cell_id"
                      : table == "niah_head_entropy" ? " ORDER BY cell_id, attention_layer, head"
                      : table == "mmlu_items"        ? " ORDER BY item_id"
                                                     : "";
  SqliteStatement s = db.sql().prepare("SELECT * FROM " + table + order);
  const int n = s.columns();
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back(s.column_name(i));
  if (format == "csv") {
    for (int i = 0; i < n; ++i) out << (i ? "," : "") << csv_field(names[size_t(i)]);
    out << "\r\n";
  }
  int64_t rows = 0;
  while (s.step()) {
    ++rows;
    if (format == "csv") {
      for (int i = 0; i < n; ++i) {
        if (i) out << ',';
        switch (s.column_type(i)) {
          case kNull: break;
          case kInteger: out << s.int64(i); break;
          case kFloat: out << real_text(s.real(i)); break;
          default: out << csv_field(s.text(i));
        }
      }
      out << "\r\n";
    } else {
      nlohmann::ordered_json j;
      for (int i = 0; i < n; ++i) {
        const std::string& name = names[size_t(i)];
        switch (s.column_type(i)) {
          case kNull: j[name] = nullptr; break;
          case kInteger: j[name] = s.int64(i); break;
          case kFloat: j[name] = s.real(i); break;
          case kText:
            if (name == "output_ids") {
              j[name] = nlohmann::json::parse(s.text(i), nullptr, false);
              if (j[name].is_discarded()) j[name] = s.text(i);
            } else {
              j[name] = s.text(i);
            }
            break;
          default: j[name] = s.text(i);
        }
      }
      out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
  }
  return rows;
}

}  // namespace hl
