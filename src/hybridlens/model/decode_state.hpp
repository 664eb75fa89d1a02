#pragma once
// Per-sequence state of a model between calls: one entry per layer, holding whichever of these the
// layer kind uses. Weights are never part of it, so a state can be forked cheaply and many
// continuations can share one prefill.
#include <cstdint>
#include <vector>

#include "hybridlens/backend/backend.hpp"

namespace hl {

struct LayerState {
  Tensor conv;  // F32 [conv_width - 1, channels]: the last inputs of a causal conv
  Tensor rec;   // F32 recurrent state: RG-LRU h [channels], or SSM h [d_inner, d_state]
  KVCache kv;   // attention layers
};

struct DecodeState {
  int64_t position = 0;  // the next position to be run
  std::vector<LayerState> layers;

  // A deep copy whose later updates do not touch this state.
  DecodeState fork(Backend& backend) const;
  size_t bytes() const;
};

// Grows a global-attention cache to hold at least `positions` positions, keeping its contents.
void reserve_kv(Backend& backend, KVCache& kv, int64_t positions, int64_t row);

}  // namespace hl
