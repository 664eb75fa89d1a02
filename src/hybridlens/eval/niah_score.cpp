#include "hybridlens/eval/niah_score.hpp"

#include <cctype>

namespace hl {

std::string normalize_for_scoring(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool space = false;
  for (unsigned char c : text) {
    if (c < 0x80 && std::ispunct(c)) continue;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : char(c);
  }
  return out;
}

namespace {
bool contains(const std::string& hay, const std::string& phrase) {
  return !phrase.empty() && hay.find(phrase) != std::string::npos;
}
}  // namespace

NiahScore score_output(const std::string& output, const Needle& needle) {
  NiahScore s;
  const std::string out = normalize_for_scoring(output);
  s.answer_found = contains(out, normalize_for_scoring(needle.answer));
  if (contains(out, normalize_for_scoring(needle.needle))) {
    s.score = 5;
    return s;
  }
  for (const auto& [phrase, points] : needle.partial)
    if (contains(out, normalize_for_scoring(phrase))) s.score += points;
  return s;
}

}  // namespace hl
