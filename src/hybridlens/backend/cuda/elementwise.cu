// Elementwise and row kernels: embed, rms_norm, activations, soft cap, add, rotary, row gather/scatter,
// dtype conversions. Element-wise kernels walk their elements grid-stride (HL_GRID_STRIDE, stride_blocks);
// all arithmetic in fp32 as on the CPU.
#include <algorithm>

#include "hybridlens/backend/cuda/device_math.cuh"
#include "hybridlens/backend/cuda/pdl.cuh"
#include "hybridlens/core/uniform_fill.hpp"

namespace hl::cuda {
namespace {

__global__ void embed_k(float* out, const void* table, WDt dt, const int32_t* ids, int64_t T, int64_t D, float scale) {
  pdl_trigger();
  pdl_wait();
  HL_GRID_STRIDE(i, T * D) {
    const int64_t t = i / D, d = i % D;
    const float v = ldw(table, dt, int64_t(ids[t]) * D + d);
    out[i] = scale != 1.0f ? v * scale : v;
  }
}

// One block per row; the mean of squares in double as the CPU does, rounded to fp32 before the rsqrt, then
// dst = (row * inv) * scale. With add (the fused residual add), row[c] += add[c] first, written back in
// place. A thread keeps its first kNormPer elements in registers and issues all of their loads before any
// store (a load-add-store loop over the row cannot overlap its loads, which may alias the stores: ~10 us a
// row at the 2B width); norm_threads sizes the block so that rows up to 8,192 wide take that path entirely.
constexpr int kNormPer = 8;

// The scale factors of the kNormPer columns this thread owns in norm_row (w, or 1 + w). Weights do not depend
// on earlier kernels, so the kernels read them before pdl_wait.
__device__ __forceinline__ void norm_scales(float (&scale)[kNormPer], const void* w, WDt dt, int64_t C, bool one_plus) {
#pragma unroll
  for (int i = 0; i < kNormPer; ++i) {
    const int64_t c = threadIdx.x + int64_t(i) * blockDim.x;
    const float wv = c < C ? ldw(w, dt, c) : 0.0f;
    scale[i] = one_plus ? 1.0f + wv : wv;
  }
}

__device__ __forceinline__ void norm_row(float* dst, float* row, const float* add, const float (&scale)[kNormPer],
                                         const void* w, WDt dt, int64_t C, float eps, bool one_plus) {
  const int64_t step = blockDim.x, held = step * kNormPer;
  float v[kNormPer];
#pragma unroll
  for (int i = 0; i < kNormPer; ++i) {
    const int64_t c = threadIdx.x + i * step;
    if (c < C) {
      v[i] = row[c];
      if (add) v[i] += add[c];
    }
  }
  double ss = 0;
#pragma unroll
  for (int i = 0; i < kNormPer; ++i) {
    const int64_t c = threadIdx.x + i * step;
    if (c < C) {
      if (add) row[c] = v[i];
      ss += double(v[i]) * double(v[i]);
    }
  }
  for (int64_t c = held + threadIdx.x; c < C; c += step) {  // rows wider than the block holds
    float u = row[c];
    if (add) {
      u += add[c];
      row[c] = u;
    }
    ss += double(u) * double(u);
  }
  __shared__ double part[32];
  for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = ss;
  __syncthreads();
  if (threadIdx.x < 32) {
    double u = threadIdx.x < (blockDim.x >> 5) ? part[threadIdx.x] : 0.0;
    for (int o = 16; o > 0; o >>= 1) u += __shfl_xor_sync(0xffffffffu, u, o);
    if (threadIdx.x == 0) part[0] = u;
  }
  __syncthreads();
  const float mean = float(part[0] / double(C));
  const float inv = 1.0f / sqrtf(mean + eps);
#pragma unroll
  for (int i = 0; i < kNormPer; ++i) {
    const int64_t c = threadIdx.x + i * step;
    if (c < C) dst[c] = (v[i] * inv) * scale[i];
  }
  for (int64_t c = held + threadIdx.x; c < C; c += step) {
    const float wv = ldw(w, dt, c);
    dst[c] = (row[c] * inv) * (one_plus ? 1.0f + wv : wv);
  }
}

__global__ void __launch_bounds__(1024)
    rms_norm_k(float* out, const float* x, const void* w, WDt dt, int64_t C, float eps, bool one_plus) {
  pdl_trigger();
  float scale[kNormPer];
  norm_scales(scale, w, dt, C, one_plus);
  pdl_wait();
  const int64_t r = blockIdx.x;
  norm_row(out + r * C, const_cast<float*>(x) + r * C, nullptr, scale, w, dt, C, eps, one_plus);
}

__global__ void __launch_bounds__(1024)
    add_rms_norm_k(float* x, const float* t, float* h, const void* w, WDt dt, int64_t C, float eps, bool one_plus) {
  pdl_trigger();
  float scale[kNormPer];
  norm_scales(scale, w, dt, C, one_plus);
  pdl_wait();
  const int64_t r = blockIdx.x;
  norm_row(h + r * C, x + r * C, t + r * C, scale, w, dt, C, eps, one_plus);
}

__global__ void activation_k(float* out, const float* a, const float* b, int64_t n, Act act) {
  pdl_trigger();
  pdl_wait();
  HL_GRID_STRIDE(i, n) {
    const float v = act_f(a[i], act);
    out[i] = b ? v * b[i] : v;
  }
}

__global__ void soft_cap_k(float* x, int64_t n, float cap) {
  pdl_trigger();
  pdl_wait();
  HL_GRID_STRIDE(i, n) {
    x[i] = tanhf(x[i] / cap) * cap;
  }
}

__global__ void add_k(float* x, const float* y, int64_t n) {
  pdl_trigger();
  pdl_wait();
  HL_GRID_STRIDE(i, n) {
    x[i] += y[i];
  }
}

// One thread per (token, head, pair i < rot/2), over x0's heads0 heads and then x1's heads1 (queries and keys
// in one launch). cos/sin in double of the fp32 angle, as the CPU.
__global__ void rotary_k(float* x0, float* x1, int64_t T, int heads0, int heads1, int head_dim, int half,
                         const float* inv_freqs, int64_t first_pos) {
  pdl_trigger();
  pdl_wait();
  const int heads = heads0 + heads1;
  HL_GRID_STRIDE(i, T * heads * half) {
    const int p = int(i % half);
    const int64_t th = i / half;
    const int64_t t = th / heads;
    const int hd = int(th % heads);
    const float angle = float(first_pos + t) * inv_freqs[p];
    double sd, cd;
    sincos(double(angle), &sd, &cd);
    const float c = float(cd), s = float(sd);
    float* v = hd < heads0 ? x0 + (t * heads0 + hd) * head_dim : x1 + (t * heads1 + hd - heads0) * head_dim;
    const float a = v[p], b = v[p + half];
    v[p] = a * c - b * s;
    v[p + half] = b * c + a * s;
  }
}

__device__ __forceinline__ int32_t row_at(const RowList& l, int64_t i) { return l.rows ? l.rows[i] : l.few_rows[i]; }

__device__ __forceinline__ float weight_at(const RowList& l, int64_t i) {
  return l.weights ? l.weights[i] : l.few_weights[i];
}

__global__ void gather_k(float* out, const float* x, RowList rows, int64_t R, int64_t W) {
  pdl_trigger();
  pdl_wait();
  HL_GRID_STRIDE(i, R * W) {
    out[i] = x[int64_t(row_at(rows, i / W)) * W + i % W];
  }
}

// Rows that may repeat: one thread per column walks the rows in order, so repeated rows add up in the CPU's
// order without atomics.
__global__ void scatter_add_k(float* y, const float* src, RowList rows, int64_t R, int64_t W) {
  pdl_trigger();
  pdl_wait();
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= W) return;
  for (int64_t i = 0; i < R; ++i) y[int64_t(row_at(rows, i)) * W + c] += weight_at(rows, i) * src[i * W + c];
}

// Distinct rows (an MoE layer's batch for one expert): each element of y takes one addition, the same one
// scatter_add_k makes, so every row and column runs at once (scatter_add_k's walk of a 256-row prefill batch
// was a chain of 256 memory latencies on 16 blocks). Row i on blockIdx.y (and its strides), columns across the
// x blocks.
__global__ void scatter_add_distinct_k(float* y, const float* src, RowList rows, int64_t R, int64_t W) {
  pdl_trigger();
  pdl_wait();
  for (int64_t i = blockIdx.y; i < R; i += gridDim.y) {
    float* to = y + int64_t(row_at(rows, i)) * W;
    const float w = weight_at(rows, i);
    for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < W; c += int64_t(gridDim.x) * blockDim.x)
      to[c] += w * src[i * W + c];
  }
}

__global__ void fill_uniform_k(void* dst, WDt dt, int64_t n, float lo, float hi, uint64_t stream) {
  pdl_trigger();
  pdl_wait();
  HL_GRID_STRIDE(i, n) {
    const float v = uniform_value(stream, i, lo, hi);
    if (dt == WDt::F32) {
      static_cast<float*>(dst)[i] = v;
    } else if (dt == WDt::BF16) {
      const __nv_bfloat16 b = __float2bfloat16_rn(v);
      static_cast<uint16_t*>(dst)[i] = *reinterpret_cast<const uint16_t*>(&b);
    } else {
      static_cast<uint16_t*>(dst)[i] = __half_as_ushort(__float2half_rn(v));
    }
  }
}

__global__ void to_bf16_k(uint16_t* dst, const float* src, int64_t n) {
  pdl_trigger();
  pdl_wait();
  HL_GRID_STRIDE(i, n) {
    const __nv_bfloat16 b = __float2bfloat16_rn(src[i]);
    dst[i] = *reinterpret_cast<const uint16_t*>(&b);
  }
}

// Four floats rounded to bf16 (to nearest even), packed in order.
__device__ __forceinline__ uint2 bf16x4(float4 v) {
  const __nv_bfloat162 lo = __floats2bfloat162_rn(v.x, v.y), hi = __floats2bfloat162_rn(v.z, v.w);
  return make_uint2(*reinterpret_cast<const uint32_t*>(&lo), *reinterpret_cast<const uint32_t*>(&hi));
}

// Four elements a thread: 16-byte loads, 8-byte stores (src 16-byte and dst 8-byte aligned, n % 4 == 0).
__global__ void to_bf16_vec_k(uint2* dst, const float4* src, int64_t n4) {
  pdl_trigger();
  pdl_wait();
  HL_GRID_STRIDE(i, n4) {
    dst[i] = bf16x4(src[i]);
  }
}

// out = bf16(act(a) * b), rounded as to_bf16 rounds: activation_k and to_bf16 in one pass.
__global__ void activation_mul_bf16_k(uint16_t* out, const float* a, const float* b, int64_t n, Act act) {
  pdl_trigger();
  pdl_wait();
  HL_GRID_STRIDE(i, n) {
    out[i] = __bfloat16_as_ushort(__float2bfloat16_rn(act_f(a[i], act) * b[i]));
  }
}

__global__ void activation_mul_bf16_vec_k(uint2* out, const float4* a, const float4* b, int64_t n4, Act act) {
  pdl_trigger();
  pdl_wait();
  HL_GRID_STRIDE(i, n4) {
    const float4 g = a[i], u = b[i];
    out[i] = bf16x4(make_float4(act_f(g.x, act) * u.x, act_f(g.y, act) * u.y, act_f(g.z, act) * u.z,
                                act_f(g.w, act) * u.w));
  }
}

__global__ void to_f32_k(float* dst, const void* src, WDt dt, int64_t n) {
  pdl_trigger();
  pdl_wait();
  HL_GRID_STRIDE(i, n) {
    dst[i] = ldw(src, dt, i);
  }
}

__global__ void fill_bias_k(float* out, const void* bias, WDt dt, int64_t T, int64_t N, int64_t ldo) {
  pdl_trigger();
  pdl_wait();
  HL_GRID_STRIDE(i, T * N) {
    const int64_t t = i / N, n = i % N;
    out[t * ldo + n] = bias ? ldw(bias, dt, n) : 0.0f;
  }
}

constexpr int kThreads = 256;

// Threads for a norm row: enough that each holds at most kNormPer elements (whole warps, 64 to 1,024).
unsigned norm_threads(int64_t C) {
  const int64_t want = (C + kNormPer - 1) / kNormPer;
  return unsigned(std::clamp<int64_t>((want + 31) / 32 * 32, 64, 1024));
}

// Whether n floats at src go to bf16 at dst four at a time (16-byte loads, 8-byte stores).
bool bf16x4_ok(int64_t n, const uint16_t* dst, const float* src) {
  return n % 4 == 0 && reinterpret_cast<uintptr_t>(src) % 16 == 0 && reinterpret_cast<uintptr_t>(dst) % 8 == 0;
}

// Blocks for scatter_add_distinct_k: columns across x, rows on y, about as many blocks in all as stride_blocks
// gives (a block walks several rows rather than paying the per-block costs again).
dim3 row_grid(int64_t R, int64_t W) {
  const int64_t x = stride_blocks(W, kThreads);
  const int64_t y = std::clamp<int64_t>(int64_t(stride_blocks(R * W, kThreads)) / x, 1, std::min<int64_t>(R, 65535));
  return dim3(unsigned(x), unsigned(y));
}

}  // namespace

void launch_embed(float* out, const void* table, WDt dt, const int32_t* ids, int64_t T, int64_t D, float scale,
                  cudaStream_t s) {
  if (T * D > 0) launch_pdl(embed_k, stride_blocks(T * D, kThreads), kThreads, s, out, table, dt, ids, T, D, scale);
}
void launch_rms_norm(float* out, const float* x, const void* w, WDt dt, int64_t T, int64_t C, float eps,
                     bool one_plus, cudaStream_t s) {
  if (T > 0 && C > 0) launch_pdl(rms_norm_k, unsigned(T), norm_threads(C), s, out, x, w, dt, C, eps, one_plus);
}
void launch_add_rms_norm(float* x, const float* t, float* h, const void* w, WDt dt, int64_t T, int64_t C, float eps,
                         bool one_plus, cudaStream_t s) {
  if (T > 0 && C > 0) launch_pdl(add_rms_norm_k, unsigned(T), norm_threads(C), s, x, t, h, w, dt, C, eps, one_plus);
}
void launch_activation(float* out, const float* a, const float* b, int64_t n, Act act, cudaStream_t s) {
  if (n > 0) launch_pdl(activation_k, stride_blocks(n, kThreads), kThreads, s, out, a, b, n, act);
}
void launch_soft_cap(float* x, int64_t n, float cap, cudaStream_t s) {
  if (n > 0) launch_pdl(soft_cap_k, stride_blocks(n, kThreads), kThreads, s, x, n, cap);
}
void launch_add(float* x, const float* y, int64_t n, cudaStream_t s) {
  if (n > 0) launch_pdl(add_k, stride_blocks(n, kThreads), kThreads, s, x, y, n);
}
void launch_rotary(float* x0, float* x1, int64_t T, int heads0, int heads1, int head_dim, int rot_dims,
                   const float* inv_freq, int64_t first_pos, cudaStream_t s) {
  const int half = rot_dims / 2;
  const int64_t n = T * (heads0 + heads1) * half;
  if (n > 0) launch_pdl(rotary_k, stride_blocks(n, kThreads), kThreads, s,
                        x0, x1, T, heads0, heads1, head_dim, half, inv_freq, first_pos);
}
void launch_gather_rows(float* out, const float* x, const RowList& rows, int64_t R, int64_t W, cudaStream_t s) {
  if (R * W > 0) launch_pdl(gather_k, stride_blocks(R * W, kThreads), kThreads, s, out, x, rows, R, W);
}
void launch_scatter_add_rows(float* y, const float* src, const RowList& rows, int64_t R, int64_t W, bool distinct,
                             cudaStream_t s) {
  if (R <= 0 || W <= 0) return;
  if (distinct)
    launch_pdl(scatter_add_distinct_k, row_grid(R, W), kThreads, s, y, src, rows, R, W);
  else
    launch_pdl(scatter_add_k, blocks_for(W, kThreads), kThreads, s, y, src, rows, R, W);
}
void launch_fill_uniform(void* dst, WDt dt, int64_t n, float lo, float hi, uint64_t stream, cudaStream_t s) {
  if (n > 0) launch_pdl(fill_uniform_k, stride_blocks(n, kThreads), kThreads, s, dst, dt, n, lo, hi, stream);
}
void launch_to_bf16(uint16_t* dst, const float* src, int64_t n, cudaStream_t s) {
  if (n <= 0) return;
  if (bf16x4_ok(n, dst, src))
    launch_pdl(to_bf16_vec_k, stride_blocks(n / 4, kThreads), kThreads, s, reinterpret_cast<uint2*>(dst),
               reinterpret_cast<const float4*>(src), n / 4);
  else
    launch_pdl(to_bf16_k, stride_blocks(n, kThreads), kThreads, s, dst, src, n);
}
void launch_activation_mul_bf16(uint16_t* out, const float* a, const float* b, int64_t n, Act act, cudaStream_t s) {
  if (n <= 0) return;
  if (bf16x4_ok(n, out, a) && bf16x4_ok(n, out, b))
    launch_pdl(activation_mul_bf16_vec_k, stride_blocks(n / 4, kThreads), kThreads, s, reinterpret_cast<uint2*>(out),
               reinterpret_cast<const float4*>(a), reinterpret_cast<const float4*>(b), n / 4, act);
  else
    launch_pdl(activation_mul_bf16_k, stride_blocks(n, kThreads), kThreads, s, out, a, b, n, act);
}
void launch_to_f32(float* dst, const void* src, WDt dt, int64_t n, cudaStream_t s) {
  if (n > 0) launch_pdl(to_f32_k, stride_blocks(n, kThreads), kThreads, s, dst, src, dt, n);
}
void launch_fill_bias(float* out, const void* bias, WDt dt, int64_t T, int64_t N, int64_t ldo, cudaStream_t s) {
  if (T * N > 0) launch_pdl(fill_bias_k, stride_blocks(T * N, kThreads), kThreads, s, out, bias, dt, T, N, ldo);
}

}  // namespace hl::cuda
