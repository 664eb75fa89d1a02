#pragma once
// A researcher's request for one run, as plain data: which heads to keep, in which phase, what to do at
// the needle, and what to record. Parsed from the CLI flags named after METHOD.md.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hybridlens/lens/attention_lens.hpp"

namespace hl {

enum class SparsifyPhase : uint8_t { Generation, Prefill, Both };

struct NeedleSpan {
  int64_t begin = 0, end = 0;  // token positions [begin, end)
  int64_t length() const { return end - begin; }
};

struct LensPlan {
  int keep_k = -1;  // -1: every head ("all")
  HeadRank rank = HeadRank::EntropyLow;
  uint64_t seed = 0;
  std::vector<std::pair<int, int>> fixed;  // (attention layer, head) kept with HeadRank::Fixed
  SparsifyPhase sparsify = SparsifyPhase::Generation;
  Manipulation prefill_manipulation = Manipulation::Keep;
  Manipulation generation_manipulation = Manipulation::Keep;
  bool binary_layer_mean = false;
  std::optional<NeedleSpan> needle;
  bool record_entropy = false, record_mass = false, record_top1 = false, record_kept = false;

  // True when the plan changes nothing and records nothing: the model then runs without a lens.
  bool is_identity() const;
  bool selects_in(bool generation) const;
  Manipulation manipulation_in(bool generation) const;
};

// "all" -> -1, otherwise a non-negative integer.
int parse_keep_heads(const std::string& text);
// "entropy-low", "entropy-high", "random:SEED", "fixed:FILE" (FILE: lines "layer,head"; # comments).
void parse_rank(const std::string& text, LensPlan& plan);
SparsifyPhase parse_sparsify(const std::string& text);
Manipulation parse_manipulation(const std::string& text);
const char* manipulation_name(Manipulation m);
const char* sparsify_name(SparsifyPhase p);
std::string rank_name(const LensPlan& plan);
// "A:B" -> [A, B)
NeedleSpan parse_needle_span(const std::string& text);

}  // namespace hl
