#include "hybridlens/lens/head_selection.hpp"

namespace hl {

uint64_t head_rank_hash(uint64_t seed, int layer, int64_t position, int head) {
  uint64_t x = seed ^ (uint64_t(uint32_t(layer)) << 40) ^ (uint64_t(position) << 8) ^ uint64_t(uint32_t(head));
  // splitmix64 finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace hl
