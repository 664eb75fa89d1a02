#pragma once
// The forward passes the architectures here share: a run of tokens of one sequence goes through the layers
// in chunks (chunked_forward), one new token for each of several states goes through them once, as rows of one
// matrix; either way the final hidden rows become logits. Each architecture supplies only its layers and head.
#include <span>
#include <vector>

#include "hybridlens/model/model.hpp"

namespace hl {

class LayerStackModel : public Model {
 public:
  explicit LayerStackModel(Backend& be) : be_(be), chunk_tokens_(be.prefill_chunk_tokens()) {}
  std::vector<float> forward(DecodeState& state, std::span<const int32_t> ids, Phase phase, LogitsWanted wanted,
                             LensHook* lens) final;
  std::vector<float> forward_batch(std::span<DecodeState* const> states, std::span<const int32_t> ids, Phase phase,
                                   std::span<LensHook* const> lenses) final;
  std::vector<int32_t> forward_batch_greedy(std::span<DecodeState* const> states, std::span<const int32_t> ids,
                                            Phase phase, std::span<LensHook* const> lenses) final;

 protected:
  Backend& be_;  // where the layers run; finish()ed after each chunk with a lens and before a pass returns

  // State b owns rows [b*T, (b+1)*T) of `ids` (T = ids.size() / states.size()); `lenses` is empty or one per
  // state. Returns the final hidden rows, before the output norm.
  virtual Tensor run_layers(std::span<DecodeState* const> states, std::span<const int32_t> ids, Phase phase,
                            std::span<LensHook* const> lenses) = 0;
  // The logits of every row of `hidden`, on the backend.
  virtual Tensor logits(const Tensor& hidden) = 0;

 private:
  // Appends the logits of every row of `hidden` to `out`.
  void append_logits(const Tensor& hidden, std::vector<float>& out);
  // Runs `pass`, then finishes the backend, also when `pass` throws (while the caller's lens still exists:
  // nothing may arrive into it later).
  void finishing(const std::function<void()>& pass);

  int64_t chunk_tokens_;
};

}  // namespace hl
