#pragma once
// How a model asks the lens what to do in each attention call. The model knows nothing of policies or
// recordings: it asks configure() once per attention layer per call and hands the result to the kernel.
#include <cstdint>

#include "hybridlens/lens/attention_lens.hpp"

namespace hl {

enum class Phase : uint8_t { Prefill, Generation };

class LensHook {
 public:
  virtual ~LensHook() = default;
  // Fills `out` for attention layer `attn_layer` (0-based among attention layers) of a call whose
  // queries are at first_pos .. first_pos + count - 1. Returns false to run the layer unmodified and
  // unrecorded. The recording pointers in `out` must stay valid until the model's current chunk of tokens
  // has gone through every layer: a GPU backend writes the recordings when the chunk ends
  // (Backend::finish), so a hook may move its storage only at the first layer of a new chunk.
  virtual bool configure(int attn_layer, int heads, int64_t first_pos, int64_t count, Phase phase,
                         AttentionLens& out) = 0;
};

}  // namespace hl
