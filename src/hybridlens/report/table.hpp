#pragma once
// A table as plain data (header, rows of text, which columns are numbers), rendered as aligned plain
// text for the terminal; html_page.hpp renders the same data as an HTML table.
#include <string>
#include <vector>

namespace hl {

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<bool> numeric;  // per column: right-aligned; missing entries count as false
};

// Columns separated by two spaces, numbers right-aligned, widths in UTF-8 characters; ends in a newline.
std::string render_text(const Table& t);

}  // namespace hl
