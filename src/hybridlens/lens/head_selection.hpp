#pragma once
// Which heads of one attention layer stay on for one query token (METHOD.md: top-k per layer per token).
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

#include "hybridlens/lens/attention_lens.hpp"

namespace hl {

// Deterministic 64-bit mix of the random ranking's inputs.
uint64_t head_rank_hash(uint64_t seed, int layer, int64_t position, int head);

// Writes keep[h] in {0, 1} for the `heads` heads of lens.layer at query `position`. entropy(h) gives the
// head's entropy on the unmanipulated probabilities. Without selection every head is kept.
template <class EntropyFn>
void select_heads(const AttentionLens& lens, int64_t position, size_t heads, EntropyFn entropy, uint8_t* keep) {
  const int H = int(heads);
  if (!lens.selects_heads() || lens.keep_k >= H) {
    std::fill_n(keep, H, uint8_t(1));
    return;
  }
  std::fill_n(keep, H, uint8_t(0));
  if (lens.rank == HeadRank::Fixed) {
    for (int h = 0; h < H; ++h) keep[h] = lens.fixed_mask && lens.fixed_mask[h] ? 1 : 0;
    return;
  }
  if (lens.keep_k == 0) return;
  int order[256];
  std::vector<int> big;
  int* idx = order;
  if (H > 256) {
    big.resize(size_t(H));
    idx = big.data();
  }
  std::iota(idx, idx + H, 0);
  auto key = [&](int h) -> double {
    switch (lens.rank) {
      case HeadRank::EntropyLow: return double(entropy(h));
      case HeadRank::EntropyHigh: return -double(entropy(h));
      default: return double(head_rank_hash(lens.seed, lens.layer, position, h) >> 11);
    }
  };
  std::partial_sort(idx, idx + lens.keep_k, idx + H, [&](int a, int b) {
    const double ka = key(a), kb = key(b);
    return ka < kb || (ka == kb && a < b);
  });
  for (int i = 0; i < lens.keep_k; ++i) keep[idx[i]] = 1;
}

}  // namespace hl
