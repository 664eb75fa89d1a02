// The operands of the prefill attention products in three fp16 passes (cuda_attention_products.cpp). Each
// operand is scaled by a power of two 2^e, chosen from its largest magnitude so that the largest lands in
// [2^14, 2^15), and split into hi = fp16(x 2^e) and lo = fp16(x 2^e - hi): 22 bits of x, where fp16 is
// normal, and an absolute error under 2^-40 of the largest element where it is not. The products'
// alpha undoes the scales. fp16 tensor cores run at twice the TF32 rate and read half the bytes.
#include <cuda_fp16.h>

#include <algorithm>

#include "hybridlens/backend/cuda/device_math.cuh"
#include "hybridlens/backend/cuda/pdl.cuh"

namespace hl::cuda {
namespace {

// The exponent e of the scale 2^e for an operand whose largest magnitude has the bit pattern `bits`.
__device__ __forceinline__ int fp16_exponent(unsigned bits) {
  if (bits == 0 || bits >= 0x7f800000u) return 0;  // all zero, or not finite (the result is not either)
  int e = 0;
  frexpf(__uint_as_float(bits), &e);  // largest in [2^(e-1), 2^e)
  return max(-120, min(120, 15 - e));
}

constexpr int kAbsmaxThreads = 256;

// bits[y] = the bit pattern of max |x_y| (non-negative floats order as their bit patterns; NaN above all).
__global__ void absmax_k(unsigned* bits, const float* x0, int64_t n0, const float* x1, int64_t n1, const float* x2,
                         int64_t n2) {
  pdl_trigger();
  pdl_wait();
  const float* x = blockIdx.y == 0 ? x0 : blockIdx.y == 1 ? x1 : x2;
  const int64_t n = blockIdx.y == 0 ? n0 : blockIdx.y == 1 ? n1 : n2;
  unsigned m = 0;
#pragma unroll 4
  HL_GRID_STRIDE(i, n) m = max(m, __float_as_uint(x[i]) & 0x7fffffffu);
  m = __reduce_max_sync(0xffffffffu, m);
  // one atomic a block: one a warp made the 8,192 warps of a 2B call queue on three addresses (24 us a call)
  __shared__ unsigned warps[kAbsmaxThreads / 32];
  if ((threadIdx.x & 31) == 0) warps[threadIdx.x >> 5] = m;
  __syncthreads();
  if (threadIdx.x < 32) {
    m = __reduce_max_sync(0xffffffffu, threadIdx.x < kAbsmaxThreads / 32 ? warps[threadIdx.x] : 0u);
    if (threadIdx.x == 0 && m != 0) atomicMax(bits + blockIdx.y, m);
  }
}

__global__ void split_fp16_k(__half* dst, const float* src, int64_t vecs, int D, bool lo_middle, const unsigned* bits,
                             int which, Fp16Factors f) {
  pdl_trigger();
  pdl_wait();
  const int e = fp16_exponent(bits[which]);
  if (f.out && blockIdx.x == 0 && threadIdx.x == 0) {
    const int eq = fp16_exponent(bits[0]), ek = fp16_exponent(bits[1]), ev = fp16_exponent(bits[2]);
    f.out[0] = scalbnf(f.score_scale, -(eq + ek));
    f.out[1] = scalbnf(1.0f, -(kFp16WeightExponent + ev));
    f.out[2] = 0.0f;
  }
  HL_GRID_STRIDE(i, vecs * D) {
    const int64_t v = i / D;
    const int d = int(i - v * D);
    __half hi, lo;
    split_half(scalbnf(src[i], e), hi, lo);
    __half* out = dst + v * 3 * D + d;
    out[0] = hi;
    out[D] = lo_middle ? lo : hi;
    out[2 * D] = lo_middle ? hi : lo;
  }
}

__global__ void split_fp16_rows_k(__half* dst, const float* src, int64_t rows, int64_t width, const unsigned* bits,
                                  int which) {
  pdl_trigger();
  pdl_wait();
  const int e = fp16_exponent(bits[which]);
  HL_GRID_STRIDE(i, rows * width) {
    const int64_t r = i / width, c = i - r * width;
    __half hi, lo;
    split_half(scalbnf(src[i], e), hi, lo);
    __half* out = dst + 3 * r * width + c;
    out[0] = hi;
    out[width] = hi;
    out[2 * width] = lo;
  }
}

}  // namespace

void launch_absmax3(unsigned* bits, const float* x0, int64_t n0, const float* x1, int64_t n1, const float* x2,
                    int64_t n2, cudaStream_t s) {
  const int64_t n = std::max(n0, std::max(n1, n2));
  if (n > 0)
    launch_pdl(absmax_k, dim3(stride_blocks(n, kAbsmaxThreads), 3), dim3(kAbsmaxThreads), s, bits, x0, n0, x1, n1, x2,
               n2);
}

void launch_split_fp16(uint16_t* dst, const float* src, int64_t vecs, int D, bool lo_middle, const unsigned* bits,
                       int which, const Fp16Factors& f, cudaStream_t s) {
  if (vecs * D > 0)
    launch_pdl(split_fp16_k, stride_blocks(vecs * D, 256), 256, s, reinterpret_cast<__half*>(dst), src, vecs, D,
               lo_middle, bits, which, f);
}

void launch_split_fp16_rows(uint16_t* dst, const float* src, int64_t rows, int64_t width, const unsigned* bits,
                            int which, cudaStream_t s) {
  if (rows * width > 0)
    launch_pdl(split_fp16_rows_k, stride_blocks(rows * width, 256), 256, s, reinterpret_cast<__half*>(dst), src, rows,
               width, bits, which);
}

}  // namespace hl::cuda
