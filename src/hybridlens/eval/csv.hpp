#pragma once
// RFC 4180 CSV: fields separated by commas, optionally in double quotes (which may hold commas, line
// breaks and "" for a quote), records ended by LF or CRLF. Reading for MMLU files, writing for exports.
#include <string>
#include <vector>

namespace hl {

struct CsvRecord {
  int line = 0;  // 1-based line where the record starts
  std::vector<std::string> fields;
};

// Throws "<source>:<line>: unterminated quoted field" or "<source>:<line>: text after a closing quote".
// Empty lines are skipped.
std::vector<CsvRecord> parse_csv(const std::string& text, const std::string& source);

// One field, quoted when it holds a comma, quote, CR or LF (or leading/trailing spaces).
std::string csv_field(const std::string& value);

}  // namespace hl
