// Greedy decoding's argmax over each logit row on the GPU, by core/argmax.hpp's rule: the largest value, the
// lowest index among equal ones (+0 and -0 are equal), NaN never chosen, and 0 when the row starts with NaN.
// Blocks take slices of a row; one block per row then merges the slices' winners in order.
#include <math_constants.h>

#include <algorithm>

#include "hybridlens/backend/cuda/device_math.cuh"
#include "hybridlens/backend/cuda/pdl.cuh"

namespace hl::cuda {
namespace {

constexpr int kThreads = 256;

struct Best {
  float v;
  int32_t i;  // INT32_MAX: none yet
};

// b beats a: larger, or equal at a lower index; NaN loses to everything (it is never taken in).
__device__ __forceinline__ Best better(Best a, Best b) { return (b.v > a.v || (b.v == a.v && b.i < a.i)) ? b : a; }

__device__ Best block_best(Best m) {
  for (int o = 16; o > 0; o >>= 1) {
    const Best other{__shfl_xor_sync(0xffffffffu, m.v, o), __shfl_xor_sync(0xffffffffu, m.i, o)};
    m = better(m, other);
  }
  __shared__ Best warps[kThreads / 32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warps[warp] = m;
  __syncthreads();
  Best r = warps[0];
  for (int w = 1; w < kThreads / 32; ++w) r = better(r, warps[w]);
  return r;
}

// partial[row * slices + blockIdx.x] = the best of the block's slice of the row
__global__ void __launch_bounds__(kThreads) argmax_slices_k(Best* partial, const float* x, int64_t N, int slices) {
  pdl_trigger();
  pdl_wait();
  const int64_t row = blockIdx.y, per = (N + slices - 1) / slices;
  const int64_t lo = blockIdx.x * per, hi = min(N, lo + per);
  const float* v = x + row * N;
  Best m{-CUDART_INF_F, INT32_MAX};
  for (int64_t i = lo + threadIdx.x; i < hi; i += kThreads) m = better(m, Best{v[i], int32_t(i)});
  m = block_best(m);
  if (threadIdx.x == 0) partial[row * slices + blockIdx.x] = m;
}

__global__ void __launch_bounds__(kThreads) argmax_merge_k(int32_t* out, const Best* partial, const float* x,
                                                           int64_t N, int slices) {
  pdl_trigger();
  pdl_wait();
  const int64_t row = blockIdx.x;
  Best m{-CUDART_INF_F, INT32_MAX};
  for (int s = threadIdx.x; s < slices; s += kThreads) m = better(m, partial[row * slices + s]);
  m = block_best(m);
  if (threadIdx.x == 0) out[row] = (N <= 1 || isnan(x[row * N]) || m.i == INT32_MAX) ? 0 : m.i;
}

// Blocks per row: one per 4,096 values, at least 1 and at most kArgmaxMaxSlices.
int argmax_slices(int64_t N) { return std::max(1, int(std::min<int64_t>(kArgmaxMaxSlices, (N + 4095) / 4096))); }

}  // namespace

size_t argmax_scratch_bytes(int64_t R, int64_t N) { return size_t(R) * size_t(argmax_slices(N)) * sizeof(Best); }

void launch_argmax_rows(int32_t* out, void* scratch, const float* x, int64_t R, int64_t N, cudaStream_t s) {
  if (R <= 0) return;
  const int slices = argmax_slices(N);
  Best* partial = static_cast<Best*>(scratch);
  launch_pdl(argmax_slices_k, dim3(unsigned(slices), unsigned(R)), dim3(kThreads), s, partial, x, N, slices);
  launch_pdl(argmax_merge_k, dim3(unsigned(R)), dim3(kThreads), s, out, static_cast<const Best*>(partial), x, N,
             slices);
}

}  // namespace hl::cuda
