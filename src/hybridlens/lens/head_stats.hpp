#pragma once
// Per-head statistics over many prompts (hybridlens heads): entropy mean and spread, how often each
// head is among the k most focused of its layer, attention mass on the needle during generation, and
// the retrieval score of Wu et al. 2024.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hybridlens/core/tensor.hpp"
#include "hybridlens/lens/lens_plan.hpp"

namespace hl {

// One prompt's recordings from a generate run with entropy, needle mass and top-1 recorded.
struct PromptRecording {
  Tensor entropy;  // F32 [layers, heads, P]
  Tensor mass;     // F32 [layers, heads, P] (undefined without a needle)
  Tensor top1;     // I32 [layers, heads, P]
  std::vector<int32_t> ids;  // prompt followed by the generated tokens
  int64_t prompt_length = 0;
  int64_t generated = 0;     // tokens generated (the last one has no recording of its own)
  std::optional<NeedleSpan> needle;
};

class HeadStats {
 public:
  HeadStats(int layers, int heads, std::vector<int> k_list);
  void add(const PromptRecording& r);

  int layers() const { return layers_; }
  int heads() const { return heads_; }
  const std::vector<int>& k_list() const { return k_list_; }
  int64_t prompts() const { return prompts_; }
  double entropy_mean(int l, int h) const;
  double entropy_std(int l, int h) const;
  // Share of query positions where the head is among the k lowest-entropy heads of its layer.
  double topk_share(size_t k_index, int l, int h) const;
  // Mean attention mass on the needle over generation steps (NaN without needles).
  double needle_mass(int l, int h) const;
  // Wu et al. 2024: per prompt, (generation steps where the head's top-1 key is in the needle and the
  // generated token equals the token there) / needle length; averaged over prompts with a needle.
  double retrieval_score(int l, int h) const;

  void write_csv(const std::string& path) const;

 private:
  size_t at(int l, int h) const { return size_t(l) * heads_ + h; }
  int layers_, heads_;
  std::vector<int> k_list_;
  int64_t prompts_ = 0, needle_prompts_ = 0;
  std::vector<double> ent_sum_, ent_sq_, ent_n_, mass_sum_, mass_n_, retrieval_sum_;
  std::vector<std::vector<double>> topk_hits_;
  std::vector<double> topk_n_;
};

}  // namespace hl
