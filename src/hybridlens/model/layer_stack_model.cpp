#include "hybridlens/model/layer_stack_model.hpp"

namespace hl {

std::vector<float> LayerStackModel::forward(DecodeState& state, std::span<const int32_t> ids, Phase phase,
                                            LogitsWanted wanted, LensHook* lens) {
  const ModelInfo& in = info();
  return chunked_forward(
      state, int(in.layer_kinds.size()), in.vocab, ids, wanted, chunk_tokens_,
      [&](std::span<const int32_t> chunk) {
        DecodeState* one[1] = {&state};
        LensHook* one_lens[1] = {lens};
        return run_layers(one, chunk, phase, one_lens);
      },
      [&](const Tensor& x, std::vector<float>& logits) { append_logits(x, logits); });
}

std::vector<float> LayerStackModel::forward_batch(std::span<DecodeState* const> states, std::span<const int32_t> ids,
                                                  Phase phase, std::span<LensHook* const> lenses) {
  const ModelInfo& in = info();
  check_batch(states, ids, lenses, int(in.layer_kinds.size()), in.vocab);
  std::vector<float> logits;
  if (!states.empty()) append_logits(run_layers(states, ids, phase, lenses), logits);
  return logits;
}

}  // namespace hl
