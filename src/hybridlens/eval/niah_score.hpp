#pragma once
// METHOD.md's NIAH scoring: lowercase, strip punctuation; 5 points if the whole needle sentence appears
// in the output, otherwise the sum of the partial-credit phrases found. Accuracy = share of 5s.
#include <string>

#include "hybridlens/eval/needles.hpp"

namespace hl {

// ASCII letters lowercased, ASCII punctuation removed, every whitespace run turned into one space, ends
// trimmed (**choice**: collapsing whitespace lets "sandwich\nand" match "sandwich and"). Other bytes
// (UTF-8) are kept as they are.
std::string normalize_for_scoring(const std::string& text);

struct NiahScore {
  double score = 0;           // 0..5
  bool answer_found = false;  // the needle's "answer" phrase appears (false when it has none)
};

NiahScore score_output(const std::string& output, const Needle& needle);

}  // namespace hl
