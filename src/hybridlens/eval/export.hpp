#pragma once
// Exporting one table or view of the results database as CSV (header row, RFC 4180 quoting) or JSON
// Lines (one object per row; output_ids as a JSON array, NULL as null).
#include <ostream>
#include <string>
#include <vector>

#include "hybridlens/eval/results_db.hpp"

namespace hl {

// Tables and views that can be exported.
const std::vector<std::string>& exportable_tables();

// Throws for an unknown table or format ("csv" or "jsonl"). Returns the number of rows written.
int64_t export_table(ResultsDb& db, const std::string& table, const std::string& format, std::ostream& out);

}  // namespace hl
