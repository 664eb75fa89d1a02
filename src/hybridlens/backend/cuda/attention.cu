// Attention with the lens, in three passes that never store a T x T matrix:
//   1. stats: per (query, head) block, the warps walk the visible keys computing scores and keep online
//      softmax statistics: max m, Z = sum e^(s-m), E = sum e^(s-m)(s-m), the needle's share of Z and the first
//      maximum. Entropy = log Z - E / Z (nats), needle mass = Z_needle / Z.
//   2. select: per (query, head) thread, the head's rank among the layer's heads (ties: lower head index).
//   3. out: per kept (query, head) block, the scores again and sum_j w_j v_j with w_j the manipulated
//      probability (keep: p; omit: p off the needle; only: p on it; binary: 1 on the needle, then times the
//      needle mass / visible needle length); disabled heads and null give zeros.
// Keys come from the ring-buffer cache for positions before first_pos and from k_new/v_new after.
// Statistics arrays are [H, T] (head-major): a recording is one block, written to the lens row by row.
// With few queries (decode: one query, a handful of heads) each (query, head) is split over several blocks
// of `chunk` consecutive keys (plan_key_splits); the stats pass then writes each block's partial online
// statistics and one kernel per query combines them and selects the heads (merge_select_k), and the output
// pass writes partial weighted sums (the weights use the merged m and Z, so partial sums simply add) that a
// second merge adds up.
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

// Scores of the keys p + j * kWarps (j < kBatch, those <= last), computed together so that their loads and
// reductions overlap (a decode step has few blocks and is bound by latency, not bandwidth).
constexpr int kBatch = 4;

__device__ __forceinline__ void scores(const AttnArgs& a, const float* qr, int64_t p, int64_t last, int64_t koff,
                                       int lane, float* s) {
  float acc[kBatch];
  const float* k[kBatch];
#pragma unroll
  for (int j = 0; j < kBatch; ++j) {
    const int64_t pj = min(p + int64_t(j) * kWarps, last);  // past the end: a valid key, result unused
    k[j] = key_row(a, a.cache_k, a.k_new, pj) + koff;
    acc[j] = 0.0f;
  }
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int d = lane + 32 * i;
    if (d < a.D) {
#pragma unroll
      for (int j = 0; j < kBatch; ++j) acc[j] += qr[i] * k[j][d];
    }
  }
#pragma unroll
  for (int j = 0; j < kBatch; ++j) s[j] = warp_sum(acc[j]) * a.scale;
}

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

__global__ void __launch_bounds__(kThreads) stats_k(AttnArgs a, AttnStats st) {
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
  if (a.splits > 1) {  // this block's keys: [lo + split * chunk, lo + (split + 1) * chunk) within [lo, pos]
    lo += int64_t(split) * a.chunk;
    pos = min(pos, lo + a.chunk - 1);
  }
  const float* q = a.q + (t * a.H + h) * a.D;
  float qr[kPerLane];
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) qr[i] = lane + 32 * i < a.D ? q[lane + 32 * i] : 0.0f;
  const int64_t koff = int64_t(h / (a.H / a.KVH)) * a.D;
  Online on;
  on.init();
  for (int64_t p = lo + warp; p <= pos; p += kBatch * kWarps) {
    float s[kBatch];
    scores(a, qr, p, pos, koff, lane, s);
#pragma unroll
    for (int j = 0; j < kBatch; ++j) {
      const int64_t pj = p + int64_t(j) * kWarps;
      if (pj <= pos) on.add(s[j], pj >= nb && pj < ne, pj);
    }
  }
  __shared__ Online parts[kWarps];
  if (lane == 0) parts[warp] = on;
  __syncthreads();
  if (threadIdx.x != 0) return;
  Online all = parts[0];
  for (int w = 1; w < kWarps; ++w) all.merge(parts[w]);
  if (a.splits > 1)
    static_cast<Online*>(a.workspace)[blockIdx.x] = all;
  else
    write_stats(a, st, t, h, all);
}

__device__ uint64_t rank_hash(uint64_t seed, int layer, int64_t position, int head) {
  uint64_t x = seed ^ (uint64_t(uint32_t(layer)) << 40) ^ (uint64_t(position) << 8) ^ uint64_t(uint32_t(head));
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// rank: 0 EntropyLow, 1 EntropyHigh, 2 Random, 3 Fixed (HeadRank's order).
__device__ double rank_key(const AttnArgs& a, const AttnStats& st, const SelectArgs& sel, int64_t t, int h) {
  if (sel.rank == 0) return double(st.entropy[int64_t(h) * a.T + t]);
  if (sel.rank == 1) return -double(st.entropy[int64_t(h) * a.T + t]);
  return double(rank_hash(sel.seed, sel.layer, a.first_pos + t, h) >> 11);
}

// Whether head h stays for query t: its rank among the layer's heads (ties: lower head index) below keep_k.
__device__ uint8_t head_kept(const AttnArgs& a, const AttnStats& st, const SelectArgs& sel, int64_t t, int h) {
  if (sel.keep_k < 0 || sel.keep_k >= a.H) return 1;
  if (sel.rank == 3) return sel.fixed_mask && sel.fixed_mask[h] ? 1 : 0;
  if (sel.keep_k == 0) return 0;
  const double kh = rank_key(a, st, sel, t, h);
  int rank = 0;
  for (int g = 0; g < a.H; ++g) {
    const double kg = rank_key(a, st, sel, t, g);
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
  sel.keep[int64_t(h) * a.T + t] = head_kept(a, st, sel, t, h);
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

// Split keys, one block per query: warp w combines the partial statistics of heads w, w + warps, ... (lane l
// merges splits l, l + 32, ... in order, then the lanes pairwise in a fixed tree: a deterministic order; the
// first maximum is kept by position whatever the order), then, after the barrier, the head selection, which
// needs every head's statistics of the query. One launch instead of a merge and a selection kernel, and
// 32 lanes instead of one thread walking the splits.
__global__ void merge_select_k(AttnArgs a, AttnStats st, SelectArgs sel) {
  pdl_trigger();
  pdl_wait();
  const int64_t t = blockIdx.x;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int h = warp; h < a.H; h += warps) {
    const Online* part = static_cast<const Online*>(a.workspace) + (t * a.H + h) * a.splits;
    Online on;
    on.init();
    for (int s = lane; s < a.splits; s += 32) on.merge(part[s]);
    for (int by = 1; by < 32; by <<= 1) {
      const Online other = shfl_down(on, by);
      if (lane % (2 * by) == 0) on.merge(other);
    }
    if (lane == 0) write_stats(a, st, t, h, on);
  }
  __syncthreads();
  for (int h = threadIdx.x; h < a.H; h += blockDim.x) sel.keep[int64_t(h) * a.T + t] = head_kept(a, st, sel, t, h);
}

__global__ void __launch_bounds__(kThreads) out_k(AttnArgs a, AttnStats st, const uint8_t* keep, int manip,
                                                  bool layer_mean) {
  pdl_trigger();
  pdl_wait();
  const int split = int(blockIdx.x % unsigned(a.splits));
  const int64_t qh = blockIdx.x / unsigned(a.splits);
  const int64_t t = qh / a.H;
  const int h = int(qh % a.H);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  // one split: the output row; several: this block's partial sum in the workspace
  float* o = a.splits > 1 ? static_cast<float*>(a.workspace) + int64_t(blockIdx.x) * a.D : a.out + qh * a.D;
  const int64_t at = int64_t(h) * a.T + t;
  if (manip == 4 || !keep[at]) {
    for (int d = threadIdx.x; d < a.D; d += kThreads) o[d] = 0.0f;
    return;
  }
  const int64_t pos = a.first_pos + t;
  int64_t lo, nb, ne;
  visible_range(a, pos, &lo, &nb, &ne);
  const int64_t koff = int64_t(h / (a.H / a.KVH)) * a.D;
  const float m = st.m[at], inv = 1.0f / st.z[at];
  float qr[kPerLane], acc[kPerLane];
  const float* q = a.q + (t * a.H + h) * a.D;
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    qr[i] = lane + 32 * i < a.D ? q[lane + 32 * i] : 0.0f;
    acc[i] = 0.0f;
  }
  // Binary needs only the needle's values; the other manipulations walk every visible key.
  int64_t from = manip == 3 ? nb : lo, to = manip == 3 ? ne : pos + 1;
  if (a.splits > 1) {
    from += int64_t(split) * a.chunk;
    to = min(to, from + a.chunk);
  }
  for (int64_t p = from + warp; p < to; p += kBatch * kWarps) {
    float s[kBatch];
    if (manip != 3) scores(a, qr, p, to - 1, koff, lane, s);
#pragma unroll
    for (int j = 0; j < kBatch; ++j) {
      const int64_t pj = p + int64_t(j) * kWarps;
      const bool in_needle = pj >= nb && pj < ne;
      // skipped keys: past the end, or off the part a manipulation keeps (uniform across the warp)
      if (pj >= to || (manip == 1 && in_needle) || (manip == 2 && !in_needle)) continue;
      const float w = manip == 3 ? 1.0f : expf(s[j] - m) * inv;
      const float* v = key_row(a, a.cache_v, a.v_new, pj) + koff;
#pragma unroll
      for (int i = 0; i < kPerLane; ++i) {
        const int d = lane + 32 * i;
        if (d < a.D) acc[i] += w * v[d];
      }
    }
  }
  __shared__ float red[kWarps][kMaxHeadDim];
#pragma unroll
  for (int i = 0; i < kPerLane; ++i) {
    const int d = lane + 32 * i;
    if (d < a.D) red[warp][d] = acc[i];
  }
  __syncthreads();
  const float c = a.splits > 1 ? 1.0f : out_factor(a, st, t, h, manip, layer_mean);
  for (int d = threadIdx.x; d < a.D; d += kThreads) {
    float sum = 0.0f;
    for (int w = 0; w < kWarps; ++w) sum += red[w][d];
    o[d] = manip == 3 ? c * sum : sum;
  }
}

// One block per (query, head): the splits' partial sums added in key order (zeros for dropped heads and
// null, which every split wrote).
__global__ void out_merge_k(AttnArgs a, AttnStats st, int manip, bool layer_mean) {
  pdl_trigger();
  pdl_wait();
  const int64_t qh = blockIdx.x;
  const int64_t t = qh / a.H;
  const int h = int(qh % a.H);
  const float* part = static_cast<const float*>(a.workspace) + qh * a.splits * a.D;
  const float c = out_factor(a, st, t, h, manip, layer_mean);
  float* o = a.out + qh * a.D;
  for (int d = threadIdx.x; d < a.D; d += blockDim.x) {
    float sum = 0.0f;
#pragma unroll 16
    for (int s = 0; s < a.splits; ++s) sum += part[int64_t(s) * a.D + d];  // unrolled: the loads go out together
    o[d] = c * sum;
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
  a.splits = 1;
  a.chunk = 0;
  a.workspace = nullptr;
  const int64_t blocks = a.T * a.H;
  // keys the longest-seeing query of the call walks
  const int64_t last = a.first_pos + a.T - 1;
  const int64_t keys = a.window > 0 ? std::min<int64_t>(a.window, last + 1) : last + 1;
  // Blocks enough for several per SM: a decode step's (query, head) pairs are few, and a block walking fewer
  // keys makes fewer dependent trips to memory (the 2B shape: 10 heads x 64 splits of 32 keys, one pass of
  // the block's warps, instead of 27 splits of 76 keys).
  const int64_t target = 8 * int64_t(std::max(multiprocessors, 1));
  if (blocks <= 0 || blocks >= target || keys < 2 * kBatch * kWarps) return 0;
  const int64_t min_chunk = kBatch * kWarps;  // one pass of the block's warps
  int64_t splits = std::min<int64_t>((target + blocks - 1) / blocks, (keys + min_chunk - 1) / min_chunk);
  if (splits <= 1) return 0;
  a.chunk = (keys + splits - 1) / splits;
  a.splits = int((keys + a.chunk - 1) / a.chunk);
  if (a.splits <= 1) {
    a.splits = 1;
    a.chunk = 0;
    return 0;
  }
  const size_t per = std::max(sizeof(Online), size_t(a.D) * sizeof(float));
  return size_t(blocks) * size_t(a.splits) * per;
}

void launch_attention_stats_select(const AttnArgs& a, const AttnStats& st, const SelectArgs& sel, cudaStream_t s) {
  if (a.T <= 0) return;
  launch_pdl(stats_k, unsigned(a.T * a.H * a.splits), kThreads, s, a, st);
  if (a.splits > 1)
    launch_pdl(merge_select_k, unsigned(a.T), 32 * std::min(a.H, 16), s, a, st, sel);
  else
    launch_head_select(a, st, sel, 0, a.T, s);
}

void launch_head_select(const AttnArgs& a, const AttnStats& st, const SelectArgs& sel, int64_t t_begin, int64_t t_end,
                        cudaStream_t s) {
  const int64_t n = (t_end - t_begin) * a.H;
  if (n > 0) launch_pdl(select_k, blocks_for(n, 128), 128, s, a, st, sel, t_begin, t_end);
}

void launch_attention_out(const AttnArgs& a, const AttnStats& st, const uint8_t* keep, int manipulation,
                          bool binary_layer_mean, cudaStream_t s) {
  if (a.T <= 0) return;
  launch_pdl(out_k, unsigned(a.T * a.H * a.splits), kThreads, s, a, st, keep, manipulation, binary_layer_mean);
  if (a.splits > 1) launch_pdl(out_merge_k, unsigned(a.T * a.H), 256, s, a, st, manipulation, binary_layer_mean);
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
