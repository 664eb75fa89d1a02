#pragma once
// Building one NIAH prompt (METHOD.md): a haystack trimmed to L - buffer tokens of the model's own
// tokenizer, the needle inserted at a depth and moved back to the end of the previous sentence, the
// context and question put into a template (the block twice under JRT), and the needle's token span
// located in the tokenized prompt.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "hybridlens/eval/haystack.hpp"
#include "hybridlens/eval/needles.hpp"
#include "hybridlens/io/tokenizer.hpp"
#include "hybridlens/lens/lens_plan.hpp"

namespace hl {

// A prompt template with the placeholders {context} and {question}, each exactly once, context first.
// Markers like <|bom|> written in the template itself (never in the context or question) that are
// pieces of the tokenizer's vocabulary are encoded as those single tokens.
struct PromptTemplate {
  std::string name;  // "base", "jamba-chat", or the file it came from
  std::string text;
};

// "CONTEXT: {context}\n\nQUESTION: {question}\n\nANSWER: Here is the most relevant sentence in the context: "
PromptTemplate base_template();
// Jamba's chat format for one user turn (**choice**: empty system turn, as Jamba's own template renders
// it), the question followed by METHOD.md's " Output the most relevant sentence in the context, word by
// word!", generation starting right after <|assistant|>.
PromptTemplate jamba_chat_template();
// Reads a template file; throws when a placeholder is missing, repeated or out of order.
PromptTemplate read_template_file(const std::string& path);
// Checks the placeholders; `source` names the template in the error.
void check_template(const std::string& text, const std::string& source);

// The JRT block of a template: from the start of the line holding {context} (after the last newline or
// vocabulary marker before it) to the end of the line holding {question} plus the blank lines after it,
// stopping at a marker. For the base template that is "CONTEXT: {context}\n\nQUESTION: {question}\n\n".
struct TemplateParts {
  std::string head, block, tail;  // text = head + block + tail
};
TemplateParts split_for_jrt(const PromptTemplate& t, const Tokenizer* tok);

// A haystack prepared for one tokenizer: the text, repeated (joined by a blank line) until it holds at
// least `min_tokens` tokens, cut only at word boundaries. Token counts are always measured by encoding
// the text itself (no BOS), so the prompt holds exactly what the tokenizer makes of the original text.
class HaystackTokens {
 public:
  HaystackTokens(const Tokenizer& tok, const Haystack& hay, int64_t min_tokens);
  const std::string& text() const { return text_; }
  // Tokens of text().substr(0, chars).
  int64_t count(size_t chars) const;
  // The longest word-boundary cut c <= limit with count(c) <= n tokens (0 when none).
  size_t cut_for_tokens(int64_t n, size_t limit) const;

 private:
  const Tokenizer& tok_;
  std::string text_;
  mutable std::unordered_map<size_t, int64_t> counts_;  // memo of count(): every depth of a length shares cuts
  std::vector<size_t> cuts_;  // word boundaries: offsets of whitespace following a non-space
};

struct NiahPromptSpec {
  int64_t length = 0;         // context length L in tokens
  double depth_percent = 0;   // 0..100
  int64_t buffer = 200;       // tokens left for the template, question and answer
  bool jrt = false;
};

struct NiahPromptResult {
  std::vector<int32_t> ids;  // BOS first
  std::string text;          // the rendered prompt
  std::string context;       // haystack with the needle
  int64_t context_tokens = 0;
  int64_t haystack_tokens = 0;
  NeedleSpan needle;          // first occurrence in ids
  int needle_copies = 0;      // 1, or 2 under JRT
  double needle_depth_actual = 0;
};

// Position where the needle goes in `hay` for a requested depth: 0 -> start, 100 -> end, otherwise the
// offset of token floor(tokens * depth / 100) moved back to just after the previous sentence end
// ('.', '!' or '?', optionally followed by closing quotes or brackets, then whitespace); the start
// when no sentence ends before it.
size_t snap_to_sentence_end(const std::string& hay, size_t offset);

// Throws, naming the needle, when L is shorter than needle + question + buffer, or when the needle's
// text is not found in the tokenized prompt (or is found more often than inserted).
NiahPromptResult build_niah_prompt(const Tokenizer& tok, const HaystackTokens& hay, const Needle& needle,
                             const PromptTemplate& tmpl, const NiahPromptSpec& spec);

// Encodes a rendered prompt whose template markers are listed in `parts` boundaries: BOS, then each
// plain run encoded as text and each vocabulary marker as its id. Used for NIAH and MMLU prompts.
std::vector<int32_t> encode_with_markers(const Tokenizer& tok, const std::vector<std::pair<bool, std::string>>& segments,
                                         bool add_bos);

}  // namespace hl
