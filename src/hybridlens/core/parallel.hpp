#pragma once
// Work splitting over the CPU threads (OpenMP underneath). set_num_threads(0) means all cores.
#include <cstdint>
#include <functional>

namespace hl {

void set_num_threads(int n);
int num_threads();

// Calls fn(begin, end) on disjoint chunks covering [0, n), at least `grain` items a chunk, in parallel.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace hl
