#include "hybridlens/report/table.hpp"

#include <algorithm>

#include "hybridlens/core/error.hpp"

namespace hl {
namespace {

// Characters, not bytes: UTF-8 continuation bytes do not count.
size_t width(const std::string& s) {
  return size_t(std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

}  // namespace

std::string render_text(const Table& t) {
  const size_t n = t.header.size();
  std::vector<size_t> w(n, 0);
  for (size_t c = 0; c < n; ++c) w[c] = width(t.header[c]);
  for (const auto& row : t.rows) {
    HL_CHECK(row.size() == n, "table: a row of ", row.size(), " cells under ", n, " columns");
    for (size_t c = 0; c < n; ++c) w[c] = std::max(w[c], width(row[c]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t c = 0; c < n; ++c) {
      const std::string pad(w[c] - width(cells[c]), ' ');
      const bool right = c < t.numeric.size() && t.numeric[c];
      if (c > 0) s += "  ";
      s += right ? pad + cells[c] : cells[c] + (c + 1 < n ? pad : "");
    }
    return s + "\n";
  };
  std::string out = line(t.header);
  for (const auto& row : t.rows) out += line(row);
  return out;
}

}  // namespace hl
