#include <cuda_runtime.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "hybridlens/backend/cuda/pdl.cuh"

namespace hl::cuda {

bool pdl_enabled() {
  static const bool wanted = [] {
    const char* v = std::getenv("HL_CUDA_PDL");
    return !(v && std::strcmp(v, "0") == 0);
  }();
  if (!wanted) return false;
  static std::array<std::atomic<int>, 64> capable{};  // 0 unknown, 1 yes, 2 no
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= int(capable.size())) return false;
  int known = capable[size_t(dev)].load(std::memory_order_relaxed);
  if (known == 0) {
    int major = 0;
    known = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess && major >= 9 ? 1 : 2;
    capable[size_t(dev)].store(known, std::memory_order_relaxed);
  }
  return known == 1;
}

}  // namespace hl::cuda
