#pragma once
// CPU attention with the lens computed in the same pass (entropy, needle mass, top-1, head selection,
// manipulations); per query it keeps one row of scores over the visible keys, never a T x T matrix.
#include "hybridlens/backend/backend.hpp"

namespace hl::cpu {

void attention(Tensor& out, const Tensor& q, const Tensor& k_new, const Tensor& v_new, KVCache& cache,
               const AttentionSpec& spec, int64_t first_pos, const AttentionLens* lens);

}  // namespace hl::cpu
