#pragma once
// Finds the token positions of a needle text inside a tokenized prompt.
#include <string>
#include <vector>

#include "hybridlens/io/tokenizer.hpp"
#include "hybridlens/lens/lens_plan.hpp"

namespace hl {

// The text each token stands for (SentencePiece's "▁" as a space, byte pieces <0xNN> as bytes, control
// tokens empty), concatenated; starts[i] is where token i begins in it.
struct TokenText {
  std::string text;
  std::vector<size_t> starts;
};
TokenText token_text(const Tokenizer& tok, const std::vector<int32_t>& ids);

// The smallest token span covering the first occurrence of `needle` in the prompt. Throws if absent.
NeedleSpan locate_needle(const Tokenizer& tok, const std::vector<int32_t>& ids, const std::string& needle);

}  // namespace hl
