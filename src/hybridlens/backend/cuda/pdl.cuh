#pragma once
// Programmatic dependent launch (compute capability 9.0+). A kernel started with launch_pdl may begin while
// the kernel before it in the stream is still running, so its launch and its first weight fetches overlap
// that kernel's tail (a decode step is ~330 kernels of a few microseconds each, where those costs weigh as
// much as the work). Every kernel of this backend but the prefill selective scan (launch_after_shared) is
// launched so, and every kernel follows two rules: it calls pdl_trigger() first (its successor may start being
// scheduled), and every block calls pdl_wait() before it reads or writes anything another operation touches
// (weights, which nothing writes, may be prefetched before). Both are no-ops in a kernel launched normally.
// HL_CUDA_PDL=0 launches everything normally.
#include <cuda_runtime.h>

namespace hl::cuda {

// Whether launches on the current device may overlap (capability >= 9 and HL_CUDA_PDL is not 0).
bool pdl_enabled();

#ifdef __CUDACC__
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void pdl_trigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Fetches the 128-byte line holding p into L2 without waiting for it.
__device__ __forceinline__ void prefetch_l2(const void* p) {
#if defined(__CUDA_ARCH__)
  asm volatile("prefetch.global.L2 [%0];" ::"l"(p));
#endif
}

// With `shared` bytes of dynamic shared memory.
template <class... KernelArgs, class... Args>
void launch_pdl_shared(void (*kernel)(KernelArgs...), dim3 grid, dim3 block, size_t shared, cudaStream_t s,
                       Args... args) {
  if (!pdl_enabled()) {
    kernel<<<grid, block, shared, s>>>(args...);
    return;
  }
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = shared;
  cfg.stream = s;
  cudaLaunchAttribute attr{};
  attr.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr.val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = &attr;
  cfg.numAttrs = 1;
  cudaLaunchKernelEx(&cfg, kernel, args...);  // errors surface at the caller's check_launch
}

template <class... KernelArgs, class... Args>
void launch_pdl(void (*kernel)(KernelArgs...), dim3 grid, dim3 block, cudaStream_t s, Args... args) {
  launch_pdl_shared(kernel, grid, block, 0, s, args...);
}

// A normal launch: the kernel's blocks are placed only once its predecessor has finished. For a long,
// latency-bound kernel of less than a wave (the prefill selective scan): launched as a dependent, its blocks
// went to the SMs its predecessor's blocks had left first (Jamba's 256 scan blocks on about 30 of 132 SMs, the
// fullest holding about 9), and the scan ran at a third of its speed for its whole length.
template <class... KernelArgs, class... Args>
void launch_after_shared(void (*kernel)(KernelArgs...), dim3 grid, dim3 block, size_t shared, cudaStream_t s,
                         Args... args) {
  kernel<<<grid, block, shared, s>>>(args...);
}
#endif

}  // namespace hl::cuda
