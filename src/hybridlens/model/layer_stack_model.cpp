#include "hybridlens/model/layer_stack_model.hpp"

namespace hl {

std::vector<float> LayerStackModel::forward(DecodeState& state, std::span<const int32_t> ids, Phase phase,
                                            LogitsWanted wanted, LensHook* lens) {
  const ModelInfo& in = info();
  std::vector<float> logits;
  finishing([&] {
    logits = chunked_forward(
        state, int(in.layer_kinds.size()), in.vocab, ids, wanted, chunk_tokens_,
        [&](std::span<const int32_t> chunk) {
          DecodeState* one[1] = {&state};
          LensHook* one_lens[1] = {lens};
          Tensor x = run_layers(one, chunk, phase, one_lens);
          // the chunk's recordings into the lens now: the next chunk's first layer may move its storage
          if (lens) be_.finish();
          return x;
        },
        [&](const Tensor& x, std::vector<float>& out) { append_logits(x, out); });
  });
  return logits;
}

std::vector<float> LayerStackModel::forward_batch(std::span<DecodeState* const> states, std::span<const int32_t> ids,
                                                  Phase phase, std::span<LensHook* const> lenses) {
  const ModelInfo& in = info();
  check_batch(states, ids, lenses, int(in.layer_kinds.size()), in.vocab);
  std::vector<float> logits;
  finishing([&] {
    if (!states.empty()) append_logits(run_layers(states, ids, phase, lenses), logits);
  });
  return logits;
}

std::vector<int32_t> LayerStackModel::forward_batch_greedy(std::span<DecodeState* const> states,
                                                           std::span<const int32_t> ids, Phase phase,
                                                           std::span<LensHook* const> lenses) {
  const ModelInfo& in = info();
  check_batch(states, ids, lenses, int(in.layer_kinds.size()), in.vocab);
  std::vector<int32_t> next(states.size());
  finishing([&] {
    if (!states.empty()) be_.argmax_rows(logits(run_layers(states, ids, phase, lenses)), next.data());
  });
  return next;
}

void LayerStackModel::append_logits(const Tensor& hidden, std::vector<float>& out) {
  const Tensor l = logits(hidden);
  const size_t at = out.size();
  out.resize(at + size_t(l.numel()));
  be_.to_host(l, out.data() + at);
}

void LayerStackModel::finishing(const std::function<void()>& pass) {
  try {
    pass();
  } catch (...) {
    be_.finish();
    throw;
  }
  be_.finish();
}

}  // namespace hl
