#include "hybridlens/report/svg_text.hpp"

namespace hl {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], 0 when it is not one.
size_t utf8_length(const std::string& s, size_t i) {
  const auto b = [&](size_t j) { return static_cast<unsigned char>(s[j]); };
  const unsigned char c = b(i);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t j = 1; j < n; ++j)
    if ((b(i + j) & 0xC0) != 0x80) return 0;
  return n;
}

}  // namespace

std::string svg_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_length(s, i);
    if (n == 0) {  // not UTF-8: would make the whole file unreadable as XML
      o += '?';
      ++i;
      continue;
    }
    if (n > 1) {
      o.append(s, i, n);
      i += n;
      continue;
    }
    const char c = s[i++];
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      case '\t': case '\n': o += ' '; break;
      default: o += static_cast<unsigned char>(c) < 0x20 ? '?' : c;  // control characters are not XML
    }
  }
  return o;
}

}  // namespace hl
