#include "hybridlens/backend/cpu/isa.hpp"

#include <atomic>

#include "hybridlens/core/error.hpp"

namespace hl::cpu {
namespace {

Isa detect() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // The AVX-512 kernels use F (arithmetic, f16 -> f32 conversion), BW (16-bit masked loads), VL and DQ.
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
#endif
  return Isa::Portable;
}

Isa best() {
  static const Isa b = detect();
  return b;
}

std::atomic<int> g_forced{-1};  // -1: not forced

}  // namespace

Isa active_isa() {
  const int f = g_forced.load(std::memory_order_relaxed);
  return f < 0 ? best() : Isa(f);
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    case Isa::Portable: break;
  }
  return "portable";
}

void force_isa(Isa isa) {
  HL_CHECK(int(isa) <= int(best()), "force_isa: this CPU does not support ", isa_name(isa));
  g_forced.store(int(isa), std::memory_order_relaxed);
}

void reset_isa() { g_forced.store(-1, std::memory_order_relaxed); }

}  // namespace hl::cpu
