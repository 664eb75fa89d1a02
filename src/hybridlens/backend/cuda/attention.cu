// Attention with the lens for few queries (decode), in two passes that never store a T x T matrix:
//   1. per (query, head, split) block over `chunk` consecutive visible keys (plan_key_splits): scores, the
//      online softmax statistics (max m, Z = sum e^(s-m), E = sum e^(s-m)(s-m), the needle's share of Z, the
//      first maximum) and, alongside, the block's part of the manipulated output: sum e^(s-m) v over the
//      keys the manipulation keeps (keep: all; omit: off the needle; only: on it), rescaled whenever m
//      grows, or for binary the plain sum of the needle's values.
//   2. per (query, head) block: every head's statistics of the query merged over the splits (entropy =
//      log Z - E / Z nats, needle mass = Z_needle / Z), the head selection (needs all heads' entropies),
//      then this head's output: the splits' parts scaled by e^(m_split - m) / Z (binary: by the needle
//      mass / visible needle length), zeros for a dropped head or null; and the KV ring update.
// Keys come from the ring-buffer cache for positions before first_pos and from k_new/v_new after.
// Statistics arrays are [H, T] (head-major): a recording is one block, written to the lens row by row.
// The select kernel here also serves the matrix-product path (attention_rows.cu) for many queries.
#include <math_constants.h>

#include <algorithm>

#include "hybridlens/backend/cuda/attention_common.cuh"
#include "hybridlens/backend/cuda/device_math.cuh"
#include "hybridlens/backend/cuda/pdl.cuh"

namespace hl::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kPerLane = kMaxHeadDim / 32;

__device__ __forceinline__ const float* key_row(const AttnArgs& a, const float* cache, const float* fresh, int64_t p) {
  const int64_t row = int64_t(a.KVH) * a.D;
  return p >= a.first_pos ? fresh + (p - a.first_pos) * row : cache + (p % a.capacity) * row;
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

constexpr int kBatch = 4;  // keys a warp takes per trip (partials_k)

struct Online {
  float m, z, es, needle, best;
  int64_t best_p;

  __device__ void init() {
    m = best = -CUDART_INF_F;
    z = es = needle = 0.0f;
    best_p = -1;
  }

  __device__ void add(float s, bool in_needle, int64_t p) {
    if (s > best) {  // keys arrive in increasing position, so the first maximum stays
      best = s;
      best_p = p;
    }
    if (z == 0.0f) {
      m = s;
      z = 1.0f;
      es = 0.0f;
      needle = in_needle ? 1.0f : 0.0f;
    } else if (s > m) {
      const float r = expf(m - s);
      es = r * (es + z * (m - s));
      z = z * r + 1.0f;
      needle = needle * r + (in_needle ? 1.0f : 0.0f);
      m = s;
    } else {
      const float e = expf(s - m);
      z += e;
      es += e * (s - m);
      if (in_needle) needle += e;
    }
  }

  __device__ void merge(const Online& o) {
    if (o.best > best || (o.best == best && o.best_p >= 0 && (best_p < 0 || o.best_p < best_p))) {
      best = o.best;
      best_p = o.best_p;
    }
    if (o.z == 0.0f) return;
    if (z == 0.0f) {
      m = o.m; z = o.z; es = o.es; needle = o.needle;
      return;
    }
    const float M = fmaxf(m, o.m);
    const float r1 = expf(m - M), r2 = expf(o.m - M);
    es = r1 * (es + z * (m - M)) + r2 * (o.es + o.z * (o.m - M));
    z = r1 * z + r2 * o.z;
    needle = r1 * needle + r2 * o.needle;
    m = M;
  }
};

__device__ __forceinline__ void write_stats(const AttnArgs& a, const AttnStats& st, int64_t t, int h,
                                            const Online& all) {
  store_stats(a, st, t, h, all.m, all.z, all.es, all.needle, all.best_p);
}

// The workspace of the two passes: per (query, head, split) its statistics, then its part of the output.
struct Parts {
  Online* on;  // [T * H * splits]
  float* acc;  // [T * H * splits, D]
};

__device__ __forceinline__ Parts parts_of(const AttnArgs& a) {
  Parts p;
  p.on = static_cast<Online*>(a.workspace);
  p.acc = reinterpret_cast<float*>(p.on + a.T * a.H * a.splits);
  return p;
}

// Whether key j's value enters the output under the manipulation (0 Keep, 1 Omit, 2 Only, 3 Binary, 4 Null).
__device__ __forceinline__ bool kept_key(int manip, bool in_needle) {
  return manip == 0 || (manip == 1 && !in_needle) || ((manip == 2 || manip == 3) && in_needle);
}

// P = values per lane (head_dim <= 32 P). A warp takes kBatch keys at a time and loads their keys and values
// together before using any, so that a trip costs one memory latency (the values do not wait on the scores).
template <int P>
__global__ void __launch_bounds__(kThreads) partials_k(AttnArgs a, int manip) {
  pdl_trigger();
  pdl_wait();
  const int split = int(blockIdx.x % unsigned(a.splits));
  const int64_t qh = blockIdx.x / unsigned(a.splits);
  const int64_t t = qh / a.H;
  const int h = int(qh % a.H);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int64_t pos = a.first_pos + t;
  int64_t lo, nb, ne;
  visible_range(a, pos, &lo, &nb, &ne);
  lo += int64_t(split) * a.chunk;  // this block's keys: [lo + split * chunk, lo + (split + 1) * chunk) within [lo, pos]
  pos = min(pos, lo + a.chunk - 1);
  const float* q = a.q + (t * a.H + h) * a.D;
  float qr[P], acc[P];
#pragma unroll
  for (int i = 0; i < P; ++i) {
    qr[i] = lane + 32 * i < a.D ? q[lane + 32 * i] : 0.0f;
    acc[i] = 0.0f;
  }
  const int64_t koff = int64_t(h / (a.H / a.KVH)) * a.D;
  const bool values = manip != 4;
  Online on;
  on.init();
  for (int64_t p = lo + warp; p <= pos; p += kBatch * kWarps) {
    float kv[kBatch][P], vv[kBatch][P];
#pragma unroll
    for (int j = 0; j < kBatch; ++j) {
      const int64_t pj = min(p + int64_t(j) * kWarps, pos);  // past the end: a valid key, result unused
      const float* k = key_row(a, a.cache_k, a.k_new, pj) + koff;
      const float* v = key_row(a, a.cache_v, a.v_new, pj) + koff;
#pragma unroll
      for (int i = 0; i < P; ++i) {
        const int d = lane + 32 * i;
        kv[j][i] = d < a.D ? k[d] : 0.0f;
        vv[j][i] = values && d < a.D ? v[d] : 0.0f;
      }
    }
    float s[kBatch];
#pragma unroll
    for (int j = 0; j < kBatch; ++j) {
      float dot = 0.0f;
#pragma unroll
      for (int i = 0; i < P; ++i) dot += qr[i] * kv[j][i];
      s[j] = warp_sum(dot) * a.scale;
    }
#pragma unroll
    for (int j = 0; j < kBatch; ++j) {
      const int64_t pj = p + int64_t(j) * kWarps;
      if (pj > pos) continue;  // uniform across the warp
      const bool in_needle = pj >= nb && pj < ne;
      float w = 0.0f;  // this key's weight in the part, relative to the warp's running maximum
      if (manip == 3) {
        w = in_needle ? 1.0f : 0.0f;
      } else if (manip != 4) {
        const bool take = kept_key(manip, in_needle);
        if (on.z == 0.0f || s[j] > on.m) {  // the maximum moves to s: what is summed so far scales by e^(m - s)
          const float r = on.z == 0.0f ? 0.0f : expf(on.m - s[j]);
#pragma unroll
          for (int i = 0; i < P; ++i) acc[i] *= r;
          w = take ? 1.0f : 0.0f;
        } else {
          w = take ? expf(s[j] - on.m) : 0.0f;
        }
      }
      on.add(s[j], in_needle, pj);
#pragma unroll
      for (int i = 0; i < P; ++i) acc[i] += w * vv[j][i];
    }
  }
  __shared__ Online warp_on[kWarps];
  __shared__ float red[kWarps][kMaxHeadDim];
  if (lane == 0) warp_on[warp] = on;
#pragma unroll
  for (int i = 0; i < P; ++i) {
    const int d = lane + 32 * i;
    if (d < a.D) red[warp][d] = acc[i];
  }
  __syncthreads();
  Online all = warp_on[0];  // every thread merges the warps in the same order
  for (int w = 1; w < kWarps; ++w) all.merge(warp_on[w]);
  const Parts out = parts_of(a);
  if (threadIdx.x == 0) out.on[blockIdx.x] = all;
  for (int d = threadIdx.x; d < a.D; d += kThreads) {
    float sum = 0.0f;
    for (int w = 0; w < kWarps; ++w) {
      const float f = manip == 3 ? 1.0f : (warp_on[w].z == 0.0f ? 0.0f : expf(warp_on[w].m - all.m));
      sum += f * red[w][d];
    }
    out.acc[int64_t(blockIdx.x) * a.D + d] = sum;
  }
}

__device__ uint64_t rank_hash(uint64_t seed, int layer, int64_t position, int head) {
  uint64_t x = seed ^ (uint64_t(uint32_t(layer)) << 40) ^ (uint64_t(position) << 8) ^ uint64_t(uint32_t(head));
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// rank: 0 EntropyLow, 1 EntropyHigh, 2 Random, 3 Fixed (HeadRank's order); entropy(g): head g's entropy.
template <class Entropy>
__device__ double rank_key(const SelectArgs& sel, int64_t position, int h, const Entropy& entropy) {
  if (sel.rank == 0) return double(entropy(h));
  if (sel.rank == 1) return -double(entropy(h));
  return double(rank_hash(sel.seed, sel.layer, position, h) >> 11);
}

// Whether head h stays for the query at `position`: its rank among the layer's H heads (ties: lower head
// index) below keep_k.
template <class Entropy>
__device__ uint8_t head_kept(int H, const SelectArgs& sel, int64_t position, int h, const Entropy& entropy) {
  if (sel.keep_k < 0 || sel.keep_k >= H) return 1;
  if (sel.rank == 3) return sel.fixed_mask && sel.fixed_mask[h] ? 1 : 0;
  if (sel.keep_k == 0) return 0;
  const double kh = rank_key(sel, position, h, entropy);
  int rank = 0;
  for (int g = 0; g < H; ++g) {
    const double kg = rank_key(sel, position, g, entropy);
    rank += (kg < kh || (kg == kh && g < h)) ? 1 : 0;
  }
  return rank < sel.keep_k ? 1 : 0;
}

__global__ void select_k(AttnArgs a, AttnStats st, SelectArgs sel, int64_t t_begin, int64_t t_end) {
  pdl_trigger();
  pdl_wait();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= (t_end - t_begin) * a.H) return;
  const int64_t t = t_begin + i / a.H;
  const int h = int(i % a.H);
  const auto entropy = [&](int g) { return st.entropy[int64_t(g) * a.T + t]; };
  sel.keep[int64_t(h) * a.T + t] = head_kept(a.H, sel, a.first_pos + t, h, entropy);
}

__device__ __forceinline__ Online shfl_down(const Online& v, int by) {
  Online o;
  o.m = __shfl_down_sync(0xffffffffu, v.m, by);
  o.z = __shfl_down_sync(0xffffffffu, v.z, by);
  o.es = __shfl_down_sync(0xffffffffu, v.es, by);
  o.needle = __shfl_down_sync(0xffffffffu, v.needle, by);
  o.best = __shfl_down_sync(0xffffffffu, v.best, by);
  o.best_p = __shfl_down_sync(0xffffffffu, (long long)v.best_p, by);
  return o;
}

// One block per (query, head): warp w merges the splits of heads w, w + warps, ... (lane l merges splits
// l, l + 32, ... in order, then the lanes pairwise in a fixed tree: a deterministic order; the first maximum
// is kept by position whatever the order), every head's entropy and mass go to shared memory for the
// selection, and the block forms its own head's output from the splits' parts. The block of head 0 stores
// the query's key and value in the ring: every read of the cache was in the first pass.
__global__ void __launch_bounds__(kThreads) finish_k(AttnArgs a, AttnStats st, SelectArgs sel, int manip,
                                                     bool layer_mean, float* cache_k, float* cache_v) {
  pdl_trigger();
  pdl_wait();
  const int64_t qh = blockIdx.x;
  const int64_t t = qh / a.H;
  const int h0 = int(qh % a.H);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  extern __shared__ float shared[];
  float* entropy_of = shared;       // [H]
  float* mass_of = shared + a.H;    // [H]
  float* scale_of = mass_of + a.H;  // [splits]: this head's e^(m_split - m) / Z
  const Parts parts = parts_of(a);
  __shared__ float head_m, head_inv_z;
  for (int h = warp; h < a.H; h += kWarps) {
    const Online* part = parts.on + (t * a.H + h) * a.splits;
    Online on;
    on.init();
    for (int s = lane; s < a.splits; s += 32) on.merge(part[s]);
    for (int by = 1; by < 32; by <<= 1) {
      const Online other = shfl_down(on, by);
      if (lane % (2 * by) == 0) on.merge(other);
    }
    if (lane == 0) {
      entropy_of[h] = fmaxf(0.0f, logf(on.z) - on.es / on.z);  // as store_stats
      mass_of[h] = on.needle / on.z;
      if (h == h0) {
        write_stats(a, st, t, h, on);
        head_m = on.m;
        head_inv_z = 1.0f / on.z;
      }
    }
  }
  __syncthreads();
  const Online* mine = parts.on + qh * a.splits;
  for (int s = threadIdx.x; s < a.splits; s += kThreads)
    scale_of[s] = mine[s].z == 0.0f ? 0.0f : expf(mine[s].m - head_m) * head_inv_z;
  const auto entropy = [&](int g) { return entropy_of[g]; };
  const uint8_t keep = head_kept(a.H, sel, a.first_pos + t, h0, entropy);
  if (threadIdx.x == 0) sel.keep[int64_t(h0) * a.T + t] = keep;
  __syncthreads();
  float c = 1.0f;  // binary: the needle mass (or the layer's mean) over the visible needle length
  if (manip == 3) {
    float mass = mass_of[h0];
    if (layer_mean) {
      mass = 0.0f;
      for (int g = 0; g < a.H; ++g) mass += mass_of[g];
      mass /= float(a.H);
    }
    int64_t lo, nb, ne;
    visible_range(a, a.first_pos + t, &lo, &nb, &ne);
    const int64_t vis = max(int64_t(0), ne - nb);
    c = vis > 0 ? mass / float(vis) : 0.0f;
  }
  float* o = a.out + qh * a.D;
  const float* acc = parts.acc + qh * a.splits * a.D;
  for (int d = threadIdx.x; d < a.D; d += kThreads) {
    float sum = 0.0f;
    if (keep && manip != 4) {
#pragma unroll 8
      for (int s = 0; s < a.splits; ++s) sum += (manip == 3 ? 1.0f : scale_of[s]) * acc[int64_t(s) * a.D + d];
    }
    o[d] = c * sum;
  }
  if (h0 == 0 && t >= a.T - a.capacity) {
    const int64_t row = int64_t(a.KVH) * a.D, slot = (a.first_pos + t) % a.capacity;
    for (int64_t e = threadIdx.x; e < row; e += kThreads) {
      cache_k[slot * row + e] = a.k_new[t * row + e];
      cache_v[slot * row + e] = a.v_new[t * row + e];
    }
  }
}

__global__ void store_kv_k(float* ck, float* cv, const float* kn, const float* vn, int64_t from, int64_t T,
                           int64_t first_pos, int64_t capacity, int64_t row) {
  pdl_trigger();
  pdl_wait();
  const int64_t n = (T - from) * row;
  HL_GRID_STRIDE(i, n) {
    const int64_t t = from + i / row, e = i % row;
    const int64_t slot = (first_pos + t) % capacity;
    ck[slot * row + e] = kn[t * row + e];
    cv[slot * row + e] = vn[t * row + e];
  }
}

}  // namespace

size_t plan_key_splits(AttnArgs& a, int multiprocessors) {
  const int64_t blocks = a.T * a.H;
  // keys the longest-seeing query of the call walks
  const int64_t last = a.first_pos + a.T - 1;
  const int64_t keys = std::max<int64_t>(1, a.window > 0 ? std::min<int64_t>(a.window, last + 1) : last + 1);
  // Blocks enough for several per SM: a decode step's (query, head) pairs are few, and a block walking fewer
  // keys makes fewer dependent trips to memory (the 2B shape: 10 heads x 64 splits of 32 keys, one pass of
  // the block's warps).
  const int64_t target = 8 * int64_t(std::max(multiprocessors, 1));
  const int64_t min_chunk = kBatch * kWarps;  // one pass of the block's warps
  const int64_t splits = std::max<int64_t>(
      1, std::min<int64_t>((target + blocks - 1) / std::max<int64_t>(blocks, 1), (keys + min_chunk - 1) / min_chunk));
  a.chunk = (keys + splits - 1) / splits;
  a.splits = int((keys + a.chunk - 1) / a.chunk);
  return size_t(std::max<int64_t>(blocks, 1)) * size_t(a.splits) * (sizeof(Online) + size_t(a.D) * sizeof(float));
}

void launch_attention_decode(const AttnArgs& a, const AttnStats& st, const SelectArgs& sel, int manipulation,
                             bool binary_layer_mean, float* cache_k, float* cache_v, cudaStream_t s) {
  if (a.T <= 0) return;
  const unsigned blocks = unsigned(a.T * a.H * a.splits);
  if (a.D <= 64)
    launch_pdl(partials_k<2>, blocks, kThreads, s, a, manipulation);
  else if (a.D <= 128)
    launch_pdl(partials_k<4>, blocks, kThreads, s, a, manipulation);
  else if (a.D <= 256)
    launch_pdl(partials_k<8>, blocks, kThreads, s, a, manipulation);
  else
    launch_pdl(partials_k<kPerLane>, blocks, kThreads, s, a, manipulation);
  const size_t shared = (2 * size_t(a.H) + size_t(a.splits)) * sizeof(float);
  launch_pdl_shared(finish_k, unsigned(a.T * a.H), kThreads, shared, s, a, st, sel, manipulation, binary_layer_mean,
                    cache_k, cache_v);
}

void launch_head_select(const AttnArgs& a, const AttnStats& st, const SelectArgs& sel, int64_t t_begin, int64_t t_end,
                        cudaStream_t s) {
  const int64_t n = (t_end - t_begin) * a.H;
  if (n > 0) launch_pdl(select_k, blocks_for(n, 128), 128, s, a, st, sel, t_begin, t_end);
}

void launch_store_kv(float* cache_k, float* cache_v, const float* k_new, const float* v_new, int64_t T,
                     int64_t first_pos, int64_t capacity, int64_t row, cudaStream_t s) {
  const int64_t from = T > capacity ? T - capacity : 0;
  const int64_t n = (T - from) * row;
  if (n > 0)
    launch_pdl(store_kv_k, stride_blocks(n, 256), 256, s,
               cache_k, cache_v, k_new, v_new, from, T, first_pos, capacity, row);
}

}  // namespace hl::cuda
