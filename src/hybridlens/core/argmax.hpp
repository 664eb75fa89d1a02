#pragma once
// Greedy decoding's choice of the next token, shared by the host path (generate) and the backends'
// argmax_rows (which the GPU runs without copying the logits back).
#include <cstdint>

namespace hl {

// Index of the largest value; the first one on ties (as torch.argmax). NaNs are never the largest (torch
// would pick one), except that a NaN at index 0 gives 0.
int32_t argmax(const float* v, int64_t n);

}  // namespace hl
