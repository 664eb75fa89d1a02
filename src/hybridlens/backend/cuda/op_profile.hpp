#pragma once
// Where the GPU time goes, per backend operation: with HL_CUDA_PROFILE=1 every operation records a CUDA
// event pair around its work on the stream, and the backend prints a table (calls, milliseconds, share) to
// stderr when it is destroyed. It also sums the host time each operation takes to issue its work (checks,
// allocations, launches): when that total approaches the wall time, the GPU waits for the host. Off by
// default: then a scope costs one branch. HL_CUDA_PROFILE=host times the host side alone (GPU ms read 0):
// the events themselves cost host time and break up overlapping launches.
#include <cuda_runtime.h>

#include <chrono>

#include <vector>

namespace hl::cuda {

class OpProfile {
 public:
  OpProfile();
  ~OpProfile();
  OpProfile(const OpProfile&) = delete;
  OpProfile& operator=(const OpProfile&) = delete;

  class Scope {
   public:
    Scope(OpProfile* p, const char* op);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    OpProfile* p_;
    size_t index_ = 0;
    std::chrono::steady_clock::time_point start_;
  };

  Scope time(const char* op) { return Scope(on_ ? this : nullptr, op); }
  // Prints the table (when on and anything was timed) and forgets the records.
  void report();

 private:
  struct Record {
    const char* op;
    cudaEvent_t begin, end;
    double host_ms;
  };
  bool on_ = false;
  bool events_ = false;  // HL_CUDA_PROFILE=host: host times only (no events, which slow the issue down)
  std::vector<Record> records_;
};

}  // namespace hl::cuda
