#include "hybridlens/model/model.hpp"

#include <algorithm>

#include "hybridlens/core/argmax.hpp"

namespace hl {

int ModelInfo::attention_layers() const {
  int n = 0;
  for (const std::string& k : layer_kinds) n += k == "attention";
  return n;
}

void check_token_ids(std::span<const int32_t> ids, int vocab) {
  for (size_t i = 0; i < ids.size(); ++i)
    HL_CHECK(ids[i] >= 0 && ids[i] < vocab, "token id ", ids[i], " at position ", i,
             " is outside the vocabulary (0..", vocab - 1, ")");
}

std::vector<float> chunked_forward(DecodeState& state, int layers, int vocab, std::span<const int32_t> ids,
                                   LogitsWanted wanted, int64_t chunk_tokens,
                                   const std::function<Tensor(std::span<const int32_t>)>& run_chunk,
                                   const std::function<void(const Tensor&, std::vector<float>&)>& append_logits) {
  HL_CHECK(chunk_tokens > 0, "chunked_forward: chunk of ", chunk_tokens, " tokens");
  HL_CHECK(state.layers.size() == size_t(layers), "decode state has ", state.layers.size(), " layers, the model ",
           layers);
  check_token_ids(ids, vocab);
  std::vector<float> logits;
  const int64_t n = int64_t(ids.size());
  for (int64_t b = 0; b < n; b += chunk_tokens) {
    const int64_t e = std::min(n, b + chunk_tokens);
    Tensor x = run_chunk(ids.subspan(size_t(b), size_t(e - b)));
    if (wanted == LogitsWanted::All || (wanted == LogitsWanted::Last && e == n))
      append_logits(wanted == LogitsWanted::All ? x : x.rows(x.dim(0) - 1, x.dim(0)), logits);
  }
  return logits;
}

void check_batch(std::span<DecodeState* const> states, std::span<const int32_t> ids,
                 std::span<LensHook* const> lenses, int layers, int vocab) {
  HL_CHECK(ids.size() == states.size(), "forward_batch: ", ids.size(), " ids for ", states.size(), " states");
  HL_CHECK(lenses.empty() || lenses.size() == states.size(), "forward_batch: ", lenses.size(), " lenses for ",
           states.size(), " states");
  for (size_t b = 0; b < states.size(); ++b) {
    HL_CHECK(states[b] != nullptr, "forward_batch: state ", b, " is null");
    HL_CHECK(states[b]->layers.size() == size_t(layers), "decode state ", b, " has ", states[b]->layers.size(),
             " layers, the model ", layers);
    for (size_t c = 0; c < b; ++c)
      HL_CHECK(states[c] != states[b], "forward_batch: state ", b, " is the same object as state ", c);
  }
  check_token_ids(ids, vocab);
}

std::vector<float> Model::forward_batch(std::span<DecodeState* const> states, std::span<const int32_t> ids,
                                        Phase phase, std::span<LensHook* const> lenses) {
  check_batch(states, ids, lenses, int(info().layer_kinds.size()), info().vocab);
  std::vector<float> logits;
  logits.reserve(states.size() * size_t(info().vocab));
  for (size_t b = 0; b < states.size(); ++b) {
    const std::vector<float> one = forward(*states[b], ids.subspan(b, 1), phase, LogitsWanted::Last, lens_of(lenses, b));
    logits.insert(logits.end(), one.begin(), one.end());
  }
  return logits;
}

std::vector<int32_t> Model::forward_batch_greedy(std::span<DecodeState* const> states, std::span<const int32_t> ids,
                                                Phase phase, std::span<LensHook* const> lenses) {
  const std::vector<float> logits = forward_batch(states, ids, phase, lenses);
  const int64_t V = info().vocab;
  std::vector<int32_t> next(states.size());
  for (size_t b = 0; b < states.size(); ++b) next[b] = argmax(logits.data() + int64_t(b) * V, V);
  return next;
}

}  // namespace hl
