#pragma once
// Per-thread scratch buffers for the CPU kernels: 64-byte aligned, grown on demand, kept for the thread's
// life so repeated calls do not page-fault fresh memory. Each `slot` is an independent buffer, so a kernel
// can hold several at once. Contents are unspecified on return.
#include <cstddef>

namespace hl::cpu {

inline constexpr int kScratchSlots = 4;

float* thread_scratch(int slot, size_t floats);

}  // namespace hl::cpu
