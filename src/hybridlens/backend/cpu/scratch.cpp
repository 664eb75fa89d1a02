#include "hybridlens/backend/cpu/scratch.hpp"

#include <cstdlib>

#include "hybridlens/core/error.hpp"

namespace hl::cpu {
namespace {

struct Buffers {
  float* data[kScratchSlots] = {};
  size_t size[kScratchSlots] = {};
  ~Buffers() {
    for (float* p : data) std::free(p);
  }
};

thread_local Buffers t_buffers;

}  // namespace

float* thread_scratch(int slot, size_t floats) {
  HL_CHECK(slot >= 0 && slot < kScratchSlots, "thread_scratch: slot ", slot, " out of range");
  Buffers& b = t_buffers;
  if (b.size[slot] < floats) {
    std::free(b.data[slot]);
    b.data[slot] = nullptr;
    b.size[slot] = 0;
    const size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
    float* p = static_cast<float*>(std::aligned_alloc(64, bytes ? bytes : 64));
    HL_CHECK(p != nullptr, "out of memory allocating ", bytes, " bytes of kernel scratch");
    b.data[slot] = p;
    b.size[slot] = floats;
  }
  return b.data[slot];
}

}  // namespace hl::cpu
