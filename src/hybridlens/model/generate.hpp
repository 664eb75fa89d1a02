#pragma once
// Greedy decoding: one prefill, then one token at a time from the decode state.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "hybridlens/core/argmax.hpp"
#include "hybridlens/model/model.hpp"

namespace hl {

struct GenerateOptions {
  int max_new_tokens = 32;
  bool stop_at_eos = true;
  LensHook* lens = nullptr;
  // Called after each generated token (progress, streaming); may be empty.
  std::function<void(int32_t)> on_token;
};

struct GenerateResult {
  std::vector<int32_t> new_ids;  // generated ids only (the EOS that stopped it included)
  double prefill_seconds = 0;
  double decode_seconds = 0;
};

// Prefills `prompt` into a fresh state and decodes greedily.
GenerateResult generate_greedy(Model& model, std::span<const int32_t> prompt, const GenerateOptions& opt);

// Decodes greedily from a state that has already consumed a prompt whose last logits are `last_logits`.
GenerateResult continue_greedy(Model& model, DecodeState& state, std::span<const float> last_logits,
                               const GenerateOptions& opt);

// Decodes greedily from several states at once, each as continue_greedy would from last_logits[b] with
// opts[b] (its own lens, max_new_tokens, EOS stop), in one forward_batch per step: a state that stops
// leaves the batch, the others go on. Each result's decode_seconds is the time until that state stopped.
// A step with more than max_batch states runs as several forward_batch calls of at most max_batch: 8 keeps
// the CPU backend's batched rows bit-identical to single rows (its GEMV kernel, cpu/linear_kernels.hpp).
std::vector<GenerateResult> continue_greedy_batch(Model& model, std::span<DecodeState* const> states,
                                                  std::span<const std::span<const float>> last_logits,
                                                  std::span<const GenerateOptions> opts, size_t max_batch = 8);

}  // namespace hl
