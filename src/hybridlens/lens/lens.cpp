#include "hybridlens/lens/lens.hpp"

#include <algorithm>
#include <cstring>

#include "hybridlens/core/error.hpp"

namespace hl {
namespace {

template <class T>
void regrow(std::vector<std::vector<T>>& per_layer, int layers, int heads, int64_t old_cap, int64_t new_cap, bool on) {
  if (!on) return;
  per_layer.resize(size_t(layers));
  for (auto& buf : per_layer) {
    std::vector<T> next(size_t(heads) * size_t(new_cap), T(0));
    for (int h = 0; h < heads && old_cap > 0; ++h)
      std::copy_n(buf.data() + size_t(h) * old_cap, old_cap, next.data() + size_t(h) * new_cap);
    buf.swap(next);
  }
}

}  // namespace

Lens::Lens(LensPlan plan, int attention_layers, int heads)
    : plan_(std::move(plan)), layers_(attention_layers), heads_(heads) {
  if (plan_.rank == HeadRank::Fixed) {
    fixed_masks_.assign(size_t(layers_), std::vector<uint8_t>(size_t(heads_), 0));
    for (auto [l, h] : plan_.fixed) {
      HL_CHECK(l < layers_ && h < heads_, "fixed head list: (", l, ", ", h, ") is outside the model's ", layers_,
               " attention layers x ", heads_, " heads");
      fixed_masks_[size_t(l)][size_t(h)] = 1;
    }
  }
  const auto uses_needle = [](Manipulation m) {
    return m == Manipulation::Omit || m == Manipulation::Only || m == Manipulation::Binary;
  };
  HL_CHECK(plan_.needle || !uses_needle(plan_.prefill_manipulation), "--prefill-manipulation ",
           manipulation_name(plan_.prefill_manipulation), " needs a needle (--needle-span or --needle-text)");
  HL_CHECK(plan_.needle || !uses_needle(plan_.generation_manipulation), "--generation-manipulation ",
           manipulation_name(plan_.generation_manipulation), " needs a needle (--needle-span or --needle-text)");
  HL_CHECK(plan_.needle || !plan_.record_mass, "recording the needle mass needs a needle");
}

void Lens::grow(int64_t needed) {
  if (needed <= capacity_) return;
  int64_t cap = std::max<int64_t>(capacity_ * 2, 256);
  while (cap < needed) cap *= 2;
  regrow(entropy_.per_layer, layers_, heads_, capacity_, cap, plan_.record_entropy);
  regrow(mass_.per_layer, layers_, heads_, capacity_, cap, plan_.record_mass);
  regrow(top1_.per_layer, layers_, heads_, capacity_, cap, plan_.record_top1);
  regrow(kept_.per_layer, layers_, heads_, capacity_, cap, plan_.record_kept);
  capacity_ = cap;
}

bool Lens::configure(int attn_layer, int heads, int64_t first_pos, int64_t count, Phase phase, AttentionLens& out) {
  HL_CHECK(attn_layer >= 0 && attn_layer < layers_ && heads == heads_, "lens configured for ", layers_, " x ", heads_,
           " heads, model asked for layer ", attn_layer, " with ", heads, " heads");
  const bool generation = phase == Phase::Generation;
  grow(first_pos + count);
  positions_ = std::max(positions_, first_pos + count);
  out = AttentionLens{};
  out.layer = attn_layer;
  out.stride = capacity_;
  const size_t at = size_t(first_pos);
  const size_t l = size_t(attn_layer);
  if (plan_.record_entropy) out.entropy = entropy_.per_layer[l].data() + at;
  if (plan_.record_mass) out.span_mass = mass_.per_layer[l].data() + at;
  if (plan_.record_top1) out.top1 = top1_.per_layer[l].data() + at;
  if (plan_.record_kept) out.kept = kept_.per_layer[l].data() + at;
  if (plan_.selects_in(generation)) {
    out.keep_k = plan_.rank == HeadRank::Fixed ? 0 : plan_.keep_k;
    out.rank = plan_.rank;
    out.seed = plan_.seed;
    if (plan_.rank == HeadRank::Fixed) out.fixed_mask = fixed_masks_[l].data();
  }
  out.manipulation = plan_.manipulation_in(generation);
  out.binary_layer_mean = plan_.binary_layer_mean;
  if (plan_.needle) {
    out.span_begin = plan_.needle->begin;
    out.span_end = plan_.needle->end;
  }
  return true;
}

template <class T>
Tensor Lens::dense(const Track<T>& t, DType dtype) const {
  HL_CHECK(!t.per_layer.empty() || positions_ == 0, "that quantity was not recorded in this run");
  Tensor d = Tensor::zeros(dtype, {layers_, heads_, positions_});
  if (t.per_layer.empty()) return d;
  T* dst = static_cast<T*>(d.raw());
  for (int l = 0; l < layers_; ++l)
    for (int h = 0; h < heads_; ++h)
      std::copy_n(t.per_layer[size_t(l)].data() + size_t(h) * capacity_, positions_,
                  dst + (size_t(l) * heads_ + h) * positions_);
  return d;
}

template Tensor Lens::dense(const Track<float>&, DType) const;
template Tensor Lens::dense(const Track<int32_t>&, DType) const;
template Tensor Lens::dense(const Track<uint8_t>&, DType) const;

}  // namespace hl
