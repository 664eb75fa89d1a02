#pragma once
// What one attention call records and how it intervenes, as plain data the attention kernel reads.
// Definitions follow METHOD.md: entropy in nats of the post-softmax (post-window-mask) distribution;
// head selection keeps k heads per layer per query token, ranked on the unmanipulated probabilities;
// a disabled head's output (before the output projection) is zero; manipulations rewrite the
// probabilities at the needle columns without renormalising.
#include <cstdint>

namespace hl {

enum class Manipulation : uint8_t { Keep, Omit, Only, Binary, Null };

enum class HeadRank : uint8_t {
  EntropyLow,   // keep the k most focused heads (the paper); ties: lower head index wins
  EntropyHigh,  // keep the k least focused heads
  Random,       // k heads chosen by a seeded hash of (seed, layer, position)
  Fixed,        // the heads set in fixed_mask
};

struct AttentionLens {
  int layer = 0;  // index among the model's attention layers (seeds Random, names errors)

  // Recording. Element (head h, query t of this call) lives at ptr[h * stride + t]; the caller points
  // each buffer at the column of the call's first query. Null pointers record nothing.
  int64_t stride = 0;
  float* entropy = nullptr;    // nats
  float* span_mass = nullptr;  // attention mass on [span_begin, span_end)
  int32_t* top1 = nullptr;     // absolute position of the most attended key (lowest position on ties)
  uint8_t* kept = nullptr;     // 1 where the head's output was kept

  // Head selection. keep_k < 0 keeps every head and ranks nothing.
  int keep_k = -1;
  HeadRank rank = HeadRank::EntropyLow;
  uint64_t seed = 0;
  const uint8_t* fixed_mask = nullptr;  // [heads] for this layer, with HeadRank::Fixed

  // Manipulation of the probabilities at the needle, absolute key positions [span_begin, span_end).
  Manipulation manipulation = Manipulation::Keep;
  int64_t span_begin = 0;
  int64_t span_end = 0;
  bool binary_layer_mean = false;  // Binary: per-layer mean needle mass instead of each head's own

  bool selects_heads() const { return keep_k >= 0; }
  bool records() const { return entropy || span_mass || top1 || kept; }
};

}  // namespace hl
