#pragma once
// The sweep planner. The intervention flags are comma lists; their cartesian product, made concrete for
// one model (k values above its head count become "all"), gives the interventions applied to every
// prompt. Interventions whose prefill is identical form a prefill group: the prompt is prefilled once
// per group and the decode state forked for each decode. Interventions whose whole effect is identical
// (for example k = all under generation-only and under prefill+generation sparsification) form a decode
// group inside it: decoded once, stored once per requested cell. The runner (niah_sweep) also reuses
// prefills and decodes across prompts whose tokens are identical (depths that snap to the same sentence).
//
// Not done yet: the forks of one prefill are decoded one after the other, because the Model interface
// has no batched decode step; batching them is the next saving (docs/performance.md).
#include <cstdint>
#include <string>
#include <vector>

#include "hybridlens/eval/results_db.hpp"
#include "hybridlens/lens/lens_plan.hpp"

namespace hl {

// The intervention flags as given, each a comma list.
struct InterventionAxes {
  std::vector<int> keep{-1};  // -1 = all
  std::vector<std::string> rank{"entropy-low"};
  std::vector<SparsifyPhase> sparsify{SparsifyPhase::Generation};
  std::vector<Manipulation> prefill_manipulation{Manipulation::Keep};
  std::vector<Manipulation> generation_manipulation{Manipulation::Keep};
  bool binary_layer_mean = false;
};

// "a,b,c" -> {"a", "b", "c"} (items trimmed); throws naming `flag` on an empty item.
std::vector<std::string> split_list(const std::string& text, const std::string& flag);
// Parses the CLI spellings: --keep "0,1,2,4,8,16,all", --rank, --sparsify, --*-manipulation.
InterventionAxes parse_intervention_axes(const std::string& keep, const std::string& rank, const std::string& sparsify,
                                         const std::string& prefill_manipulation,
                                         const std::string& generation_manipulation, bool binary_layer_mean);

// One intervention made concrete for a model.
struct Intervention {
  LensPlan plan;               // without the needle span (set per prompt)
  LensPlan prefill_plan;       // only what acts during prefill (identity when nothing does)
  InterventionRecord record;   // as stored
  std::string prefill_key;     // equal <=> identical prefill
  std::string decode_key;      // equal <=> identical prefill and decode
  std::string setting_key;     // equal <=> identical stored settings (duplicates are dropped)
};

// The cartesian product for a model with `heads` heads per attention layer (0: no attention, where
// every intervention is the unmodified model). Duplicates after collapsing k are removed; order is the
// axes' order (keep outermost, then rank, sparsify, prefill and generation manipulation).
std::vector<Intervention> expand_interventions(const InterventionAxes& axes, int heads);

// Interventions grouped: prefill groups, each a list of decode groups, each a list of indices into the
// interventions.
struct PrefillGroup {
  std::string key;
  std::vector<std::vector<size_t>> decodes;
};
std::vector<PrefillGroup> group_interventions(const std::vector<Intervention>& cells);

struct PlanCounts {
  int64_t cells = 0, prefills = 0, decodes = 0;
};
// Per prompt, with sharing (the planner) and without (one prefill and one decode per cell).
PlanCounts count_plan(const std::vector<Intervention>& cells);

}  // namespace hl
