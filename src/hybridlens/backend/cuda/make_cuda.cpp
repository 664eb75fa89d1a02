// Entry points make_backend.cpp calls in CUDA builds.
#include <memory>
#include <string>

#include "hybridlens/backend/cuda/cuda_backend.hpp"

namespace hl::cuda {

std::unique_ptr<Backend> new_cuda_backend(int index, bool precise) {
  std::string why;
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    fail("--device cuda:", index, ": no CUDA device (", cudaGetErrorString(e), ")");
  }
  HL_CHECK(index < count, "--device cuda:", index, ": no such CUDA device (", count, " found)");
  return std::make_unique<CudaBackend>(index, precise);
}

int device_count(std::string* why) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    if (why) *why = cudaGetErrorString(e);
    return 0;
  }
  if (count == 0 && why) *why = "cudaGetDeviceCount found none";
  return count;
}

}  // namespace hl::cuda
