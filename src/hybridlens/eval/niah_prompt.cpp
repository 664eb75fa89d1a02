#include "hybridlens/eval/niah_prompt.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "hybridlens/core/error.hpp"
#include "hybridlens/lens/needle_locator.hpp"

namespace hl {
namespace {

constexpr const char* kContext = "{context}";
constexpr const char* kQuestion = "{question}";

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// [begin, end) of every vocabulary marker ("<...>", no whitespace inside) in a template.
std::vector<std::pair<size_t, size_t>> find_markers(const std::string& t, const Tokenizer* tok) {
  std::vector<std::pair<size_t, size_t>> out;
  if (!tok) return out;
  for (size_t i = t.find('<'); i != std::string::npos; i = t.find('<', i + 1)) {
    const size_t j = t.find('>', i + 1);
    if (j == std::string::npos) break;
    const std::string cand = t.substr(i, j + 1 - i);
    if (cand.size() < 3 || cand.size() > 48 ||
        std::any_of(cand.begin(), cand.end(), [](char c) { return is_space(c) || c == '{' || c == '}'; }))
      continue;
    const int32_t id = tok->piece_to_id(cand);
    if (id != tok->unk_id() && tok->piece(id) == cand) {
      out.emplace_back(i, j + 1);
      i = j;
    }
  }
  return out;
}


size_t count_occurrences(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

std::string short_text(const std::string& s) { return s.size() > 60 ? s.substr(0, 57) + "..." : s; }

}  // namespace

PromptTemplate base_template() {
  return {"base", "CONTEXT: {context}\n\nQUESTION: {question}\n\nANSWER: Here is the most relevant sentence in the context: "};
}

PromptTemplate jamba_chat_template() {
  return {"jamba-chat",
          "<|bom|><|system|> <|eom|><|bom|><|user|> CONTEXT: {context}\n\nQUESTION: {question} Output the most "
          "relevant sentence in the context, word by word!<|eom|><|bom|><|assistant|>"};
}

void check_template(const std::string& text, const std::string& source) {
  const size_t c = text.find(kContext), q = text.find(kQuestion);
  HL_CHECK(c != std::string::npos, source, ": the template has no {context} placeholder");
  HL_CHECK(q != std::string::npos, source, ": the template has no {question} placeholder");
  HL_CHECK(text.find(kContext, c + 1) == std::string::npos, source, ": {context} appears more than once");
  HL_CHECK(text.find(kQuestion, q + 1) == std::string::npos, source, ": {question} appears more than once");
  HL_CHECK(c < q, source, ": {context} must come before {question}");
}

PromptTemplate read_template_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  HL_CHECK(f.good(), path, ": cannot read the template file");
  std::ostringstream s;
  s << f.rdbuf();
  PromptTemplate t{path, s.str()};
  check_template(t.text, path);
  return t;
}

TemplateParts split_for_jrt(const PromptTemplate& t, const Tokenizer* tok) {
  check_template(t.text, t.name);
  const auto markers = find_markers(t.text, tok);
  const size_t c = t.text.find(kContext);
  const size_t q = t.text.find(kQuestion) + std::string(kQuestion).size();
  size_t begin = 0;
  const size_t nl = t.text.rfind('\n', c);
  if (nl != std::string::npos) begin = nl + 1;
  for (const auto& [mb, me] : markers)
    if (me <= c) begin = std::max(begin, me);
  size_t next_marker = t.text.size();
  for (const auto& [mb, me] : markers)
    if (mb >= q) next_marker = std::min(next_marker, mb);
  size_t end = q;
  while (end < next_marker && t.text[end] != '\n') ++end;
  while (end < next_marker && (t.text[end] == '\n' || t.text[end] == '\r')) ++end;
  return {t.text.substr(0, begin), t.text.substr(begin, end - begin), t.text.substr(end)};
}

std::vector<int32_t> encode_with_markers(const Tokenizer& tok, const std::vector<std::pair<bool, std::string>>& segments,
                                         bool add_bos) {
  std::vector<int32_t> ids;
  if (add_bos && tok.bos_id() >= 0) ids.push_back(tok.bos_id());
  std::string plain;
  auto flush = [&] {
    if (plain.empty()) return;
    const std::vector<int32_t> e = tok.encode(plain, false);
    ids.insert(ids.end(), e.begin(), e.end());
    plain.clear();
  };
  for (const auto& [marker, text] : segments) {
    if (!marker) {
      plain += text;
      continue;
    }
    flush();
    ids.push_back(tok.piece_to_id(text));
  }
  flush();
  return ids;
}

HaystackTokens::HaystackTokens(const Tokenizer& tok, const Haystack& hay, int64_t min_tokens) : tok_(tok) {
  HL_CHECK(!hay.text.empty(), hay.label, ": the haystack is empty");
  // Enough characters for min_tokens at a generous 16 characters per token; far more is never encoded.
  const size_t enough = size_t(std::max<int64_t>(min_tokens, 1)) * 16 + 64;
  text_ = hay.text.substr(0, std::min(hay.text.size(), enough));
  for (;;) {
    if (int64_t(tok_.encode(text_, false).size()) >= min_tokens) break;
    HL_CHECK(text_.size() < enough * 64, hay.label, ": the haystack text does not reach ", min_tokens, " tokens");
    text_ += "\n\n" + text_;
  }
  for (size_t i = 1; i < text_.size(); ++i)
    if (is_space(text_[i]) && !is_space(text_[i - 1])) cuts_.push_back(i);
  cuts_.push_back(text_.size());
}

int64_t HaystackTokens::count(size_t chars) const {
  if (chars == 0) return 0;
  const auto hit = counts_.find(chars);
  if (hit != counts_.end()) return hit->second;
  const int64_t n = int64_t(tok_.encode(text_.substr(0, chars), false).size());
  counts_.emplace(chars, n);
  return n;
}

size_t HaystackTokens::cut_for_tokens(int64_t n, size_t limit) const {
  // Binary search over the word boundaries <= limit: token counts grow with the cut.
  const auto last = std::upper_bound(cuts_.begin(), cuts_.end(), limit);
  size_t lo = 0, hi = size_t(last - cuts_.begin());  // answer index in [0, hi): largest i with count <= n
  size_t best = 0;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (count(cuts_[mid]) <= n) {
      best = cuts_[mid];
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return best;
}

size_t snap_to_sentence_end(const std::string& hay, size_t offset) {
  offset = std::min(offset, hay.size());
  for (size_t i = offset; i > 0; --i) {
    if (i < hay.size() && !is_space(hay[i])) continue;
    size_t j = i;
    while (j > 0 && (hay[j - 1] == '"' || hay[j - 1] == '\'' || hay[j - 1] == ')' || hay[j - 1] == ']')) --j;
    if (j > 0 && (hay[j - 1] == '.' || hay[j - 1] == '!' || hay[j - 1] == '?')) return i;
  }
  return 0;
}

NiahPromptResult build_niah_prompt(const Tokenizer& tok, const HaystackTokens& hay, const Needle& needle,
                             const PromptTemplate& tmpl, const NiahPromptSpec& spec) {
  const std::string who = "needle \"" + needle.id + "\"";
  const int64_t needle_tokens = int64_t(tok.encode(needle.needle, false).size());
  const int64_t question_tokens = int64_t(tok.encode(needle.question, false).size());
  HL_CHECK(spec.buffer >= 0, "--buffer must not be negative");
  HL_CHECK(spec.length >= needle_tokens + question_tokens + spec.buffer, "context length ", spec.length,
           " tokens is shorter than the ", who, " (", needle_tokens, " tokens) + its question (", question_tokens,
           " tokens) + the buffer (", spec.buffer, " tokens) = ", needle_tokens + question_tokens + spec.buffer,
           " tokens; give longer --lengths or a smaller --buffer");
  HL_CHECK(spec.depth_percent >= 0 && spec.depth_percent <= 100, "depth ", spec.depth_percent,
           "% is outside 0..100");
  const int64_t budget = spec.length - spec.buffer;  // haystack + needle tokens

  NiahPromptResult p;
  int64_t hay_target = budget - needle_tokens;
  size_t limit = hay.text().size();
  for (int attempt = 0;; ++attempt) {
    const size_t cut = hay.cut_for_tokens(hay_target, limit);
    std::string h = hay.text().substr(0, cut);
    const size_t lead = h.find_first_not_of(" \t\r\n");
    h = lead == std::string::npos ? std::string() : h.substr(lead);
    size_t at = h.size();
    if (spec.depth_percent <= 0) {
      at = 0;
    } else if (spec.depth_percent < 100) {
      const int64_t hay_tokens = hay.count(cut);
      const int64_t target = int64_t(std::floor(double(hay_tokens) * spec.depth_percent / 100.0));
      const size_t raw = hay.cut_for_tokens(target, cut);
      at = snap_to_sentence_end(h, raw > lead ? raw - lead : 0);
    }
    std::string ctx;
    if (h.empty()) {
      ctx = needle.needle;
    } else if (at == 0) {
      ctx = needle.needle + " " + h;
    } else if (at >= h.size()) {
      ctx = h + " " + needle.needle;
    } else {
      ctx = h.substr(0, at) + " " + needle.needle + h.substr(at);
    }
    const int64_t ctx_tokens = int64_t(tok.encode(ctx, false).size());
    if (ctx_tokens > budget && attempt < 16 && hay_target > 0) {
      hay_target -= std::max<int64_t>(1, ctx_tokens - budget);
      limit = cut;
      continue;
    }
    HL_CHECK(ctx_tokens <= budget, who, ": cannot fit the haystack into ", budget, " tokens");
    p.context = std::move(ctx);
    p.context_tokens = ctx_tokens;
    p.haystack_tokens = int64_t(tok.encode(h, false).size());
    const int64_t before = at == 0 ? 0 : int64_t(tok.encode(h.substr(0, at), false).size());
    p.needle_depth_actual = p.haystack_tokens > 0 ? 100.0 * double(before) / double(p.haystack_tokens) : 0.0;
    break;
  }

  // Render: the template split into plain text and vocabulary markers, placeholders filled in plain runs.
  const TemplateParts parts = split_for_jrt(tmpl, &tok);
  const std::string body = parts.head + parts.block + (spec.jrt ? parts.block : std::string()) + parts.tail;
  std::vector<std::pair<bool, std::string>> segments;
  size_t pos = 0;
  for (const auto& [mb, me] : find_markers(body, &tok)) {
    if (mb > pos) segments.emplace_back(false, body.substr(pos, mb - pos));
    segments.emplace_back(true, body.substr(mb, me - mb));
    pos = me;
  }
  if (pos < body.size()) segments.emplace_back(false, body.substr(pos));
  for (auto& [marker, text] : segments) {
    if (marker) continue;
    // Fill {question} first so that a context containing "{question}" is never substituted into.
    for (size_t at = text.find(kQuestion); at != std::string::npos; at = text.find(kQuestion, at + needle.question.size())) {
      text.replace(at, std::string(kQuestion).size(), needle.question);
    }
    for (size_t at = text.find(kContext); at != std::string::npos; at = text.find(kContext, at + p.context.size())) {
      text.replace(at, std::string(kContext).size(), p.context);
    }
  }
  for (const auto& seg : segments) p.text += seg.second;
  p.ids = encode_with_markers(tok, segments, true);

  // Locate the needle in what the model will read.
  const TokenText tt = token_text(tok, p.ids);
  const size_t copies = count_occurrences(tt.text, needle.needle);
  const size_t expected = spec.jrt ? 2 : 1;
  HL_CHECK(copies > 0, who, " (\"", short_text(needle.needle),
           "\") was not found in the tokenized prompt: the tokenizer does not reproduce its text (unusual "
           "characters or spacing?); rewrite the needle");
  HL_CHECK(copies == expected, who, " appears ", copies, " times in the tokenized prompt, expected ", expected,
           ": the haystack or template already contains the needle sentence");
  p.needle = locate_needle(tok, p.ids, needle.needle);
  p.needle_copies = int(copies);
  return p;
}

}  // namespace hl
