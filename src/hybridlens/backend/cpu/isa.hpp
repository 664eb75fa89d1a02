#pragma once
// Which instruction set the CPU kernels use, decided once at run time (the library is built for baseline
// x86-64; AVX2 and AVX-512 code lives in functions compiled with __attribute__((target(...))) and is only
// called when the CPU reports the features). Tests may force a lower level to cover it on any machine.
namespace hl::cpu {

// Ordered: a CPU that has a level has the ones below it. Kernels without an AVX2 version use the portable
// one at Avx2.
enum class Isa { Portable, Avx2, Avx512 };

// The ISA in use: the best the CPU supports, unless force_isa() said otherwise.
Isa active_isa();
const char* isa_name(Isa isa);

// For tests and benchmarks: use `isa` from now on (a level above the CPU's is refused with hl::Error).
void force_isa(Isa isa);
// Back to the best ISA the CPU supports.
void reset_isa();

// RAII helper for tests: forces an ISA for the scope.
class ScopedIsa {
 public:
  explicit ScopedIsa(Isa isa) : saved_(active_isa()) { force_isa(isa); }
  ~ScopedIsa() { force_isa(saved_); }
  ScopedIsa(const ScopedIsa&) = delete;
  ScopedIsa& operator=(const ScopedIsa&) = delete;

 private:
  Isa saved_;
};

}  // namespace hl::cpu
