#pragma once
// What every architecture offers: a description, a fresh decode state, and a forward pass over a run
// of tokens that continues a state.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "hybridlens/backend/backend.hpp"
#include "hybridlens/lens/lens_hook.hpp"
#include "hybridlens/model/decode_state.hpp"

namespace hl {

struct ModelInfo {
  std::string architecture;             // e.g. "RecurrentGemmaForCausalLM"
  std::vector<std::string> layer_kinds;  // per layer: "recurrent", "attention", "mamba", ...
  int hidden = 0;
  int vocab = 0;
  int heads = 0;       // attention heads per attention layer (0 without attention)
  int kv_heads = 0;
  int head_dim = 0;
  int64_t window = 0;  // 0 = global attention
  int64_t parameters = 0;
  int experts = 0, experts_per_token = 0;  // mixture-of-experts layers (0 without)
  int64_t active_parameters = 0;           // per token with MoE; 0 when the same as parameters
  std::string weight_dtype;  // "BF16", "F32", "mixed (...)"
  int bos_id = -1, eos_id = -1, pad_id = -1;
  int attention_layers() const;
};

// Throws naming the first id outside [0, vocab) and its position.
void check_token_ids(std::span<const int32_t> ids, int vocab);

enum class LogitsWanted { None, Last, All };

// The forward loop every architecture shares: checks the state and ids, runs `ids` through
// run_chunk in chunks of at most chunk_tokens tokens (Backend::prefill_chunk_tokens: bounding activation
// memory), and turns the wanted rows of each chunk's final hidden states into logits with append_logits.
std::vector<float> chunked_forward(DecodeState& state, int layers, int vocab, std::span<const int32_t> ids,
                                   LogitsWanted wanted, int64_t chunk_tokens,
                                   const std::function<Tensor(std::span<const int32_t>)>& run_chunk,
                                   const std::function<void(const Tensor&, std::vector<float>&)>& append_logits);

// Checks a forward_batch call: one id and one lens slot (lenses may also be empty: none) per state, every
// state with `layers` layers, every id in the vocabulary. Returns the lens of state b (null for none).
void check_batch(std::span<DecodeState* const> states, std::span<const int32_t> ids,
                 std::span<LensHook* const> lenses, int layers, int vocab);
inline LensHook* lens_of(std::span<LensHook* const> lenses, size_t b) { return lenses.empty() ? nullptr : lenses[b]; }

class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelInfo& info() const = 0;
  virtual DecodeState new_state() const = 0;
  // Runs `ids` at positions state.position ... and advances the state. Returns host logits, row-major
  // [rows, vocab]: no rows, the last position's, or every position's.
  virtual std::vector<float> forward(DecodeState& state, std::span<const int32_t> ids, Phase phase,
                                     LogitsWanted wanted, LensHook* lens = nullptr) = 0;
  // One decode step for several independent states at once: state b consumes ids[b] (at its own
  // position) under lenses[b] (lenses empty: no lens anywhere). Returns host logits [states, vocab].
  // Architectures that batch run every row-wise operation once on [states, hidden] rows, so each weight is
  // read once per step for all states; this default runs forward() state by state.
  virtual std::vector<float> forward_batch(std::span<DecodeState* const> states, std::span<const int32_t> ids,
                                           Phase phase, std::span<LensHook* const> lenses);
  // forward_batch's step, returning each state's greedy next token (the argmax of its logits, core/argmax.hpp)
  // instead of the logits: the backend picks it where the logits are (a GPU copies 4 bytes a state, not the
  // vocabulary's logits). This default takes the argmax of forward_batch's rows on the host.
  virtual std::vector<int32_t> forward_batch_greedy(std::span<DecodeState* const> states,
                                                    std::span<const int32_t> ids, Phase phase,
                                                    std::span<LensHook* const> lenses);
  virtual Backend& backend() = 0;
};

}  // namespace hl
