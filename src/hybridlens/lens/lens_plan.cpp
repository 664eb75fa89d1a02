#include "hybridlens/lens/lens_plan.hpp"

#include <charconv>
#include <fstream>

#include "hybridlens/core/error.hpp"

namespace hl {
namespace {

bool parse_int(const std::string& s, int64_t& v) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

std::string trim(std::string s) {
  const char* ws = " \t\r\n";
  s.erase(0, s.find_first_not_of(ws));
  const size_t e = s.find_last_not_of(ws);
  s.erase(e == std::string::npos ? 0 : e + 1);
  return s;
}

std::vector<std::pair<int, int>> read_fixed_heads(const std::string& path) {
  std::ifstream f(path);
  HL_CHECK(f.good(), path, ": cannot read the fixed head list");
  std::vector<std::pair<int, int>> heads;
  std::string line;
  for (int n = 1; std::getline(f, line); ++n) {
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    const size_t comma = line.find(',');
    int64_t layer = 0, head = 0;
    HL_CHECK(comma != std::string::npos && parse_int(trim(line.substr(0, comma)), layer) &&
                 parse_int(trim(line.substr(comma + 1)), head) && layer >= 0 && head >= 0,
             path, ":", n, ": expected \"layer,head\" (attention-layer index, head index), got \"", line, "\"");
    heads.emplace_back(int(layer), int(head));
  }
  return heads;
}

}  // namespace

bool LensPlan::is_identity() const {
  // A fixed head list selects even at keep_k = -1, which is how niah and mmlu give it.
  return keep_k < 0 && rank != HeadRank::Fixed && prefill_manipulation == Manipulation::Keep &&
         generation_manipulation == Manipulation::Keep && !record_entropy && !record_mass && !record_top1 &&
         !record_kept;
}

bool LensPlan::selects_in(bool generation) const {
  if (keep_k < 0 && rank != HeadRank::Fixed) return false;
  return sparsify == SparsifyPhase::Both || (generation ? sparsify == SparsifyPhase::Generation
                                                        : sparsify == SparsifyPhase::Prefill);
}

Manipulation LensPlan::manipulation_in(bool generation) const {
  return generation ? generation_manipulation : prefill_manipulation;
}

int parse_keep_heads(const std::string& text) {
  if (text == "all") return -1;
  int64_t v = 0;
  HL_CHECK(parse_int(text, v) && v >= 0 && v < (1 << 20), "--keep-heads: expected a number of heads or \"all\", got \"",
           text, "\"");
  return int(v);
}

void parse_rank(const std::string& text, LensPlan& plan) {
  if (text == "entropy-low") {
    plan.rank = HeadRank::EntropyLow;
  } else if (text == "entropy-high") {
    plan.rank = HeadRank::EntropyHigh;
  } else if (text.rfind("random:", 0) == 0) {
    int64_t seed = 0;
    HL_CHECK(parse_int(text.substr(7), seed) && seed >= 0, "--rank random:SEED needs a non-negative integer seed, got \"",
             text.substr(7), "\"");
    plan.rank = HeadRank::Random;
    plan.seed = uint64_t(seed);
  } else if (text.rfind("fixed:", 0) == 0) {
    plan.rank = HeadRank::Fixed;
    plan.fixed = read_fixed_heads(text.substr(6));
  } else {
    fail("--rank: expected entropy-low, entropy-high, random:SEED or fixed:FILE, got \"", text, "\"");
  }
}

SparsifyPhase parse_sparsify(const std::string& text) {
  if (text == "generation") return SparsifyPhase::Generation;
  if (text == "prefill") return SparsifyPhase::Prefill;
  if (text == "both" || text == "prefill+generation") return SparsifyPhase::Both;
  fail("--sparsify: expected generation, prefill or both, got \"", text, "\"");
}

Manipulation parse_manipulation(const std::string& text) {
  if (text == "keep") return Manipulation::Keep;
  if (text == "omit") return Manipulation::Omit;
  if (text == "only") return Manipulation::Only;
  if (text == "binary") return Manipulation::Binary;
  if (text == "null") return Manipulation::Null;
  fail("manipulation: expected keep, omit, only, binary or null, got \"", text, "\"");
}

const char* manipulation_name(Manipulation m) {
  switch (m) {
    case Manipulation::Keep: return "keep";
    case Manipulation::Omit: return "omit";
    case Manipulation::Only: return "only";
    case Manipulation::Binary: return "binary";
    case Manipulation::Null: return "null";
  }
  return "?";
}

const char* sparsify_name(SparsifyPhase p) {
  switch (p) {
    case SparsifyPhase::Generation: return "generation";
    case SparsifyPhase::Prefill: return "prefill";
    case SparsifyPhase::Both: return "both";
  }
  return "?";
}

std::string rank_name(const LensPlan& plan) {
  switch (plan.rank) {
    case HeadRank::EntropyLow: return "entropy-low";
    case HeadRank::EntropyHigh: return "entropy-high";
    case HeadRank::Random: return "random:" + std::to_string(plan.seed);
    case HeadRank::Fixed: return "fixed";
  }
  return "?";
}

NeedleSpan parse_needle_span(const std::string& text) {
  const size_t colon = text.find(':');
  int64_t a = 0, b = 0;
  HL_CHECK(colon != std::string::npos && parse_int(text.substr(0, colon), a) && parse_int(text.substr(colon + 1), b) &&
               a >= 0 && b > a,
           "--needle-span: expected A:B with 0 <= A < B (token positions, end exclusive), got \"", text, "\"");
  return {a, b};
}

}  // namespace hl
