// The sweep planner: comma lists expand to a grid, k above the head count collapses to all, and cells
// with identical prefills (and identical decodes) are grouped; counts for the paper's grids.
#include <gtest/gtest.h>

#include <functional>

#include "hybridlens/core/error.hpp"
#include "hybridlens/eval/sweep_plan.hpp"

namespace hl {
namespace {

InterventionAxes axes(const std::string& keep, const std::string& sparsify, const std::string& pm = "keep",
                      const std::string& gm = "keep", const std::string& rank = "entropy-low") {
  return parse_intervention_axes(keep, rank, sparsify, pm, gm, false);
}

TEST(SweepPlan, PaperGridOnTenHeads) {
  // RecurrentGemma-2B: 10 heads. k in {0,1,2,4,8,16,all} -> {0,1,2,4,8,all}; two phases.
  const auto cells = expand_interventions(axes("0,1,2,4,8,16,all", "generation,both"), 10);
  ASSERT_EQ(cells.size(), 12u);
  const PlanCounts c = count_plan(cells);
  EXPECT_EQ(c.cells, 12);
  EXPECT_EQ(c.prefills, 6);  // one dense prefill for every generation-only cell and k=all; 5 sparse ones
  EXPECT_EQ(c.decodes, 11);  // k=all under generation and under both decode identically
  for (const Intervention& iv : cells) {
    EXPECT_LE(iv.record.keep_k, 10);
    EXPECT_EQ(iv.record.heads, 10);
  }
  const auto groups = group_interventions(cells);
  ASSERT_EQ(groups.size(), 6u);
  EXPECT_EQ(groups[0].decodes.size(), 6u);  // the dense prefill: k = 0,1,2,4,8,all under generation
  size_t in_groups = 0;
  for (const auto& g : groups)
    for (const auto& d : g.decodes) in_groups += d.size();
  EXPECT_EQ(in_groups, cells.size());
}

TEST(SweepPlan, SmallModelCollapsesLargeK) {
  const auto cells = expand_interventions(axes("0,1,2,4,8,16,all", "generation,both"), 4);
  EXPECT_EQ(cells.size(), 8u);  // k in {0,1,2,all} x 2 phases
  const PlanCounts c = count_plan(cells);
  EXPECT_EQ(c.prefills, 4);
  EXPECT_EQ(c.decodes, 7);
  // Jamba-Mini-1.6's 32 heads keep every value.
  EXPECT_EQ(expand_interventions(axes("0,1,2,4,8,16,all", "generation,both"), 32).size(), 14u);
}

TEST(SweepPlan, ManipulationGridSharesPrefillsByPrefillManipulation) {
  const auto cells = expand_interventions(axes("all", "generation", "keep,omit,only,binary,null", "keep,omit,only,binary,null"), 4);
  ASSERT_EQ(cells.size(), 25u);
  const PlanCounts c = count_plan(cells);
  EXPECT_EQ(c.prefills, 5);
  EXPECT_EQ(c.decodes, 25);
  // Generation-only sparsification and generation manipulations share one prefill.
  const auto gen = expand_interventions(axes("0,1,2,all", "generation", "keep", "keep,omit"), 4);
  EXPECT_EQ(count_plan(gen).prefills, 1);
  EXPECT_EQ(count_plan(gen).decodes, 8);
  // Prefill sparsification never shares between different k.
  const auto pre = expand_interventions(axes("0,1,2", "prefill"), 4);
  EXPECT_EQ(count_plan(pre).prefills, 3);
}

TEST(SweepPlan, ModelsWithoutAttentionRunOneCellPerPrompt) {
  const auto cells = expand_interventions(axes("0,1,all", "generation,both", "keep", "keep,null"), 0);
  const PlanCounts c = count_plan(cells);
  EXPECT_EQ(c.prefills, 1);
  EXPECT_EQ(c.decodes, 1);
  for (const Intervention& iv : cells) EXPECT_TRUE(iv.plan.is_identity());
}

TEST(SweepPlan, PrefillPlansOnlyCarryWhatActsInPrefill) {
  const auto cells = expand_interventions(axes("2", "generation,both", "omit", "only"), 4);
  ASSERT_EQ(cells.size(), 2u);
  EXPECT_EQ(cells[0].prefill_plan.keep_k, -1);  // generation-only: dense prefill
  EXPECT_EQ(cells[0].prefill_plan.prefill_manipulation, Manipulation::Omit);
  EXPECT_EQ(cells[0].prefill_plan.generation_manipulation, Manipulation::Keep);
  EXPECT_EQ(cells[1].prefill_plan.keep_k, 2);
  EXPECT_TRUE(cells[1].prefill_plan.selects_in(false));
  EXPECT_NE(cells[0].prefill_key, cells[1].prefill_key);
}

TEST(SweepPlan, ParsingErrors) {
  auto err = [](const std::function<void()>& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(err([] { axes("0,,2", "generation"); }).find("--keep: empty item"), std::string::npos);
  EXPECT_NE(err([] { axes("0,x", "generation"); }).find("--keep"), std::string::npos);
  EXPECT_NE(err([] { axes("all", "sometimes"); }).find("--sparsify"), std::string::npos);
  EXPECT_NE(err([] { axes("all", "generation", "twist"); }).find("manipulation"), std::string::npos);
  EXPECT_NE(err([] { axes("all", "generation", "keep", "keep", "loudest"); }).find("--rank"), std::string::npos);
  EXPECT_EQ(split_list(" a , b ,c", "--x"), (std::vector<std::string>{"a", "b", "c"}));
}

}  // namespace
}  // namespace hl
