#include "hybridlens/lens/needle_locator.hpp"

#include <algorithm>

#include "hybridlens/core/error.hpp"

namespace hl {
namespace {

std::string piece_text(const Tokenizer& tok, int32_t id) {
  if (tok.is_control(id)) return "";
  std::string p = tok.piece(id);
  if (p.size() == 6 && p.rfind("<0x", 0) == 0 && p.back() == '>') {
    return std::string(1, char(std::stoi(p.substr(3, 2), nullptr, 16)));
  }
  std::string out;
  static const std::string space = "\xe2\x96\x81";  // U+2581, SentencePiece's word boundary
  for (size_t i = 0; i < p.size();) {
    if (p.compare(i, space.size(), space) == 0) {
      out += ' ';
      i += space.size();
    } else {
      out += p[i++];
    }
  }
  return out;
}

}  // namespace

TokenText token_text(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  TokenText t;
  t.starts.reserve(ids.size());
  for (int32_t id : ids) {
    t.starts.push_back(t.text.size());
    t.text += piece_text(tok, id);
  }
  return t;
}

NeedleSpan locate_needle(const Tokenizer& tok, const std::vector<int32_t>& ids, const std::string& needle) {
  HL_CHECK(!needle.empty(), "--needle-text is empty");
  const TokenText t = token_text(tok, ids);
  const size_t at = t.text.find(needle);
  HL_CHECK(at != std::string::npos, "--needle-text \"", needle.substr(0, 80), needle.size() > 80 ? "..." : "",
           "\" was not found in the tokenized prompt");
  const size_t end = at + needle.size();
  // First token ending after `at`; last token starting before `end`.
  int64_t b = int64_t(std::upper_bound(t.starts.begin(), t.starts.end(), at) - t.starts.begin()) - 1;
  int64_t e = int64_t(std::lower_bound(t.starts.begin(), t.starts.end(), end) - t.starts.begin());
  b = std::max<int64_t>(b, 0);
  // Skip empty (control) tokens at the front of the span.
  while (b + 1 < e && t.starts[size_t(b) + 1] <= at) ++b;
  return {b, e};
}

}  // namespace hl
