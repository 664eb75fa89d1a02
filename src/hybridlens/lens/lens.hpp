#pragma once
// The lens of one run: turns a LensPlan into per-call AttentionLens data for the kernels and keeps what
// they record, [attention layers, heads, positions], growing with every prefill and decode step.
#include <cstdint>
#include <vector>

#include "hybridlens/core/tensor.hpp"
#include "hybridlens/lens/lens_hook.hpp"
#include "hybridlens/lens/lens_plan.hpp"

namespace hl {

class Lens final : public LensHook {
 public:
  Lens(LensPlan plan, int attention_layers, int heads);

  bool configure(int attn_layer, int heads, int64_t first_pos, int64_t count, Phase phase,
                 AttentionLens& out) override;

  const LensPlan& plan() const { return plan_; }
  int64_t positions() const { return positions_; }
  // Recordings as dense [attention layers, heads, positions()] tensors (copies).
  Tensor entropy() const { return dense(entropy_, DType::F32); }
  Tensor needle_mass() const { return dense(mass_, DType::F32); }
  Tensor top1() const { return dense(top1_, DType::I32); }
  Tensor kept() const { return dense(kept_, DType::U8); }

 private:
  template <class T>
  struct Track {
    std::vector<std::vector<T>> per_layer;  // [heads * capacity] each
  };
  void grow(int64_t needed);
  template <class T>
  Tensor dense(const Track<T>& t, DType dtype) const;

  LensPlan plan_;
  int layers_, heads_;
  int64_t capacity_ = 0, positions_ = 0;
  std::vector<std::vector<uint8_t>> fixed_masks_;  // [layer][head]
  Track<float> entropy_, mass_;
  Track<int32_t> top1_;
  Track<uint8_t> kept_;
};

}  // namespace hl
