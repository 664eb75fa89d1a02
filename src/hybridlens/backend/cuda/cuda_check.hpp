#pragma once
// CUDA and cuBLAS status codes turned into hl::Error with the operation's name.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "hybridlens/core/error.hpp"

namespace hl::cuda {

inline void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail(what, ": CUDA error: ", cudaGetErrorString(e));
}

// After a launch: a launch failure names the operation.
inline void check_launch(const char* op) { check_cuda(cudaGetLastError(), op); }

inline void check_cublas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) fail(what, ": cuBLAS error: ", cublasGetStatusString(s));
}

}  // namespace hl::cuda
