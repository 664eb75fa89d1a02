// Attention for many queries (prefill) as matrix products: cuBLAS forms the scores of a block of queries
// against the block's contiguous keys (cuda_attention_products.cpp); the kernels here turn each score row
// into the lens's statistics and, after head selection, into the manipulated weights (in place, or as fp16
// parts), which cuBLAS then multiplies by the values. Rows are two-pass (maximum first, then the sums), so they need no
// online rescaling; the rules are those of attention.cu (attention_common.cuh).
#include <math_constants.h>

#include "hybridlens/backend/cuda/attention_common.cuh"
#include "hybridlens/backend/cuda/device_math.cuh"
#include "hybridlens/backend/cuda/pdl.cuh"

namespace hl::cuda {
namespace {

constexpr int kRowThreads = 256;
constexpr int kRowWarps = kRowThreads / 32;

struct RowPlace {
  float* s;                  // the row: scores of keys key0 .. key0 + Kn - 1 (weights after row_weights_k)
  int64_t t;                 // query index in the call
  int h;
  int64_t lo, last, nb, ne;  // visible keys [lo, last], needle [nb, ne), absolute positions
};

__device__ __forceinline__ RowPlace place_of(const AttnArgs& a, const RowBlock& b) {
  RowPlace r;
  const int64_t row = blockIdx.x;
  r.h = int(row / b.Tb);
  r.t = b.t0 + row % b.Tb;
  r.s = b.s + row * b.ld;
  r.last = a.first_pos + r.t;
  visible_range(a, r.last, &r.lo, &r.nb, &r.ne);
  return r;
}

// Block-wide sum of v (every thread gets it).
__device__ float block_sum(float v, float* shared) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  float t = 0.0f;
  for (int w = 0; w < kRowWarps; ++w) t += shared[w];
  return t;
}

__global__ void __launch_bounds__(kRowThreads) row_stats_k(AttnArgs a, AttnStats st, RowBlock b) {
  pdl_trigger();
  pdl_wait();
  const RowPlace r = place_of(a, b);
  // pass 1: maximum and its first position
  float best = -CUDART_INF_F;
  int64_t best_p = INT64_MAX;
  for (int64_t p = r.lo + threadIdx.x; p <= r.last; p += kRowThreads) {
    const float v = r.s[p - b.key0];
    if (v > best) {  // each thread walks increasing positions, so it keeps its first maximum
      best = v;
      best_p = p;
    }
  }
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, best, o);
    const int64_t op = __shfl_xor_sync(0xffffffffu, best_p, o);
    if (ov > best || (ov == best && op < best_p)) {
      best = ov;
      best_p = op;
    }
  }
  __shared__ float vals[kRowWarps];
  __shared__ int64_t poss[kRowWarps];
  __shared__ float sums[kRowWarps];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    vals[warp] = best;
    poss[warp] = best_p;
  }
  __syncthreads();
  for (int w = 0; w < kRowWarps; ++w) {
    if (vals[w] > best || (vals[w] == best && poss[w] < best_p)) {
      best = vals[w];
      best_p = poss[w];
    }
  }
  const float m = best;
  // pass 2: z = sum e^(s-m), es = sum e^(s-m) (s-m), the needle's part of z
  float z = 0.0f, es = 0.0f, needle = 0.0f;
  for (int64_t p = r.lo + threadIdx.x; p <= r.last; p += kRowThreads) {
    const float d = r.s[p - b.key0] - m;
    const float e = expf(d);
    z += e;
    es += e * d;
    if (p >= r.nb && p < r.ne) needle += e;
  }
  z = block_sum(z, sums);
  es = block_sum(es, sums);
  needle = block_sum(needle, sums);
  if (threadIdx.x == 0) store_stats(a, st, r.t, r.h, m, z, es, needle, best_p);
}

// Scores -> weights, in place or (b.w3) as fp16 parts: the manipulated probability of each visible key (see
// attention.cu's out_k), zero for keys the query does not see and for the whole row of a dropped head or under
// null. Weights are at most 1, so 2^kFp16WeightExponent times them stays well inside fp16.
__global__ void __launch_bounds__(kRowThreads) row_weights_k(AttnArgs a, AttnStats st, RowBlock b,
                                                             const uint8_t* keep, int manip, bool layer_mean) {
  pdl_trigger();
  pdl_wait();
  const RowPlace r = place_of(a, b);
  const int64_t at = int64_t(r.h) * a.T + r.t;
  const bool off = manip == 4 || !keep[at];
  const float m = st.m[at], inv = 1.0f / st.z[at];
  const float c = out_factor(a, st, r.t, r.h, manip, layer_mean);
  for (int64_t j = threadIdx.x; j < b.ld; j += kRowThreads) {  // to ld: the products read the padding too
    const int64_t p = b.key0 + j;
    const bool seen = p >= r.lo && p <= r.last;
    const bool in_needle = p >= r.nb && p < r.ne;
    float v = 0.0f;
    if (!off && seen) {
      if (manip == 3)
        v = in_needle ? c : 0.0f;
      else if (!((manip == 1 && in_needle) || (manip == 2 && !in_needle)))
        v = expf(r.s[j] - m) * inv;
    }
    if (b.w3) {
      __half hi, lo;
      split_half(v * float(1 << kFp16WeightExponent), hi, lo);
      __half* w = reinterpret_cast<__half*>(b.w3) + 3 * ((r.s - b.s) + j);
      w[0] = hi;
      w[1] = lo;
      w[2] = hi;
    } else {
      r.s[j] = v;
    }
  }
}

// kc/vc row i = the key/value of absolute position from + i (the ring cache before first_pos, k_new after).
__global__ void gather_keys_k(float* kc, float* vc, AttnArgs a, int64_t from, int64_t n) {
  pdl_trigger();
  pdl_wait();
  const int64_t row = int64_t(a.KVH) * a.D;
  HL_GRID_STRIDE(i, n * row) {
    const int64_t p = from + i / row, e = i % row;
    const bool fresh = p >= a.first_pos;
    const int64_t src = (fresh ? p - a.first_pos : p % a.capacity) * row + e;
    kc[i] = fresh ? a.k_new[src] : a.cache_k[src];
    vc[i] = fresh ? a.v_new[src] : a.cache_v[src];
  }
}

}  // namespace

void launch_gather_keys(float* kc, float* vc, const AttnArgs& a, int64_t from, int64_t n, cudaStream_t s) {
  const int64_t total = n * int64_t(a.KVH) * a.D;
  if (total > 0) launch_pdl(gather_keys_k, stride_blocks(total, 256), 256, s, kc, vc, a, from, n);
}

void launch_row_stats(const AttnArgs& a, const AttnStats& st, const RowBlock& b, cudaStream_t s) {
  const int64_t rows = int64_t(a.H) * b.Tb;
  if (rows > 0) launch_pdl(row_stats_k, unsigned(rows), kRowThreads, s, a, st, b);
}

void launch_row_weights(const AttnArgs& a, const AttnStats& st, const RowBlock& b, const uint8_t* keep,
                        int manipulation, bool binary_layer_mean, cudaStream_t s) {
  const int64_t rows = int64_t(a.H) * b.Tb;
  if (rows > 0)
    launch_pdl(row_weights_k, unsigned(rows), kRowThreads, s, a, st, b, keep, manipulation, binary_layer_mean);
}

}  // namespace hl::cuda
