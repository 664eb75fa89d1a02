// Sequence kernels: causal depthwise conv1d with its carried state, the RG-LRU scan (one thread per
// channel walking time for decode, chunked over time for prefill) and the Mamba selective scan (4 lanes
// per channel sharing the state dimension; for prefill, inputs staged in shared memory a tile of steps at a time).
#include <cuda_pipeline.h>

#include "hybridlens/backend/cuda/device_math.cuh"
#include "hybridlens/backend/cuda/lru_math.cuh"
#include "hybridlens/backend/cuda/pdl.cuh"

namespace hl::cuda {
namespace {

// out[t, c] = bias[c] + sum_j w[c, j] in[t - hist + j, c], in[] reading the state for negative times.
__device__ __forceinline__ float conv_at(const float* x, const void* w, WDt dt, const void* bias, WDt bdt,
                                         const float* state, int64_t t, int64_t c, int64_t C, int64_t width) {
  const int64_t hist = width - 1;
  float acc = 0.0f;
  for (int64_t j = 0; j < width; ++j) {
    const int64_t src = t - hist + j;
    const float in = src >= 0 ? x[src * C + c] : state[(hist + src) * C + c];
    acc += ldw(w, dt, c * width + j) * in;
  }
  if (bias) acc += ldw(bias, bdt, c);
  return acc;
}

// New state of channel c = the last hist rows of [state; x]; row r reads row T + r >= r + 1, so in place is
// safe.
__device__ __forceinline__ void conv_shift_state(float* state, const float* x, int64_t T, int64_t c, int64_t C,
                                                 int64_t hist) {
  for (int64_t r = 0; r < hist; ++r) {
    const int64_t src = T + r;
    state[r * C + c] = src < hist ? state[src * C + c] : x[(src - hist) * C + c];
  }
}

__global__ void conv1d_k(float* out, const float* x, const void* w, WDt dt, const void* bias, WDt bdt,
                         const float* state, int64_t T, int64_t C, int64_t width) {
  pdl_trigger();
  pdl_wait();
  HL_GRID_STRIDE(i, T * C) out[i] = conv_at(x, w, dt, bias, bdt, state, i / C, i % C, C, width);
}

// Many steps (prefill), kernel widths up to kConvMaxWidth: a thread walks kConvSteps steps of one channel
// with the weights and the last width inputs in registers, so each input is loaded once (all of them before the
// walk) and no thread divides an index (conv1d_k's grid-stride loop did both per output). Same arithmetic as
// conv_at.
constexpr int kConvMaxWidth = 8;
constexpr int kConvSteps = 16;

__global__ void conv1d_steps_k(float* __restrict__ out, const float* __restrict__ x, const void* w, WDt dt,
                               const void* bias, WDt bdt, const float* __restrict__ state, int64_t T, int64_t C,
                               int width) {
  pdl_trigger();
  pdl_wait();
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t t0 = int64_t(blockIdx.y) * kConvSteps;
  if (c >= C) return;
  const int hist = width - 1;
  float wv[kConvMaxWidth], win[kConvMaxWidth];
#pragma unroll
  for (int j = 0; j < kConvMaxWidth; ++j) {
    wv[j] = j < width ? ldw(w, dt, c * width + j) : 0.0f;
    const int64_t src = t0 - hist + j;  // the inputs before t0
    win[j] = j >= hist ? 0.0f : (src >= 0 ? x[src * C + c] : state[(hist + src) * C + c]);
  }
  const float b = bias ? ldw(bias, bdt, c) : 0.0f;
  const int n = int(min(int64_t(kConvSteps), T - t0));
  float xs[kConvSteps];  // every step's input requested before the first is used
#pragma unroll
  for (int s = 0; s < kConvSteps; ++s)
    if (s < n) xs[s] = x[(t0 + s) * C + c];
#pragma unroll
  for (int s = 0; s < kConvSteps; ++s) {
    if (s >= n) break;
    const int64_t t = t0 + s;
#pragma unroll
    for (int j = 0; j < kConvMaxWidth; ++j)
      if (j == hist) win[j] = xs[s];
    float acc = 0.0f;
#pragma unroll
    for (int j = 0; j < kConvMaxWidth; ++j)
      if (j < width) acc += wv[j] * win[j];
    if (bias) acc += b;
    out[t * C + c] = acc;
#pragma unroll
    for (int j = 0; j + 1 < kConvMaxWidth; ++j)
      if (j < hist) win[j] = win[j + 1];
  }
}

__global__ void conv1d_state_k(float* state, const float* x, int64_t T, int64_t C, int64_t hist) {
  pdl_trigger();
  pdl_wait();
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c < C) conv_shift_state(state, x, T, c, C, hist);
}

// Few steps (decode): one thread per channel computes its outputs and then shifts its own state: one launch
// instead of two, the same arithmetic.
__global__ void conv1d_few_k(float* out, const float* x, const void* w, WDt dt, const void* bias, WDt bdt,
                             float* state, int64_t T, int64_t C, int64_t width) {
  pdl_trigger();
  pdl_wait();
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  for (int64_t t = 0; t < T; ++t) out[t * C + c] = conv_at(x, w, dt, bias, bdt, state, t, c, C, width);
  conv_shift_state(state, x, T, c, C, width - 1);
}

// Step t restarts the state when its position is 0.
__device__ __forceinline__ bool lru_reset(const int64_t* positions, int64_t pos0, int64_t t) {
  return (positions ? positions[t] : pos0 + t) == 0;
}

__device__ __forceinline__ LruStep lru_step(const float* x, const float* gxp, const float* gap, float sp,
                                            const int64_t* positions, int64_t pos0, int64_t t, int64_t i) {
  return lru_coeffs(x[i], gxp[i], gap[i], sp, lru_reset(positions, pos0, t));
}

// Few steps (decode): one thread per channel walking time from the carried state.
__global__ void rglru_k(float* out, const float* x, const float* gxp, const float* gap, const void* rp, WDt dt,
                        const int64_t* positions, int64_t pos0, float* hstate, int64_t T, int64_t C) {
  pdl_trigger();
  pdl_wait();
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  const float sp = softplus_f(ldw(rp, dt, c));
  float h = hstate[c];
  for (int64_t t = 0; t < T; ++t) {
    const LruStep s = lru_step(x, gxp, gap, sp, positions, pos0, t, t * C + c);
    h = s.a * h + s.b;
    out[t * C + c] = h;
  }
  hstate[c] = h;
}

// Many steps (prefill): time cut into chunks of kLruChunk steps, so that chunks x channels threads work.
// Pass 1, per (chunk, channel): the chunk's scan from a zero state into out, and the product of its decays.
// Pass 2, per channel: the state entering each chunk, chunk after chunk.
// Pass 3, per (chunk, channel): out[t] += (product of the chunk's decays up to t) x the entering state.
// Short chunks give many threads (2,048 steps of the 2B width: 128 chunks, 327,680 threads); 16 against 64 took
// 1.6 ms off a 4,096-token 2B prefill (docs/performance.md). Passes 1 and 3 load their chunk's inputs before
// walking it.
constexpr int64_t kLruChunk = 16;

__host__ __device__ __forceinline__ int64_t lru_chunks(int64_t T) { return (T + kLruChunk - 1) / kLruChunk; }

// A chunk's inputs for one channel, loaded before the walk uses any of them: its loads do not wait for each other
// (the walk's stores to out could alias them, so the compiler would not move a later step's loads above them).
struct LruChunkInputs {
  float x[kLruChunk], gx[kLruChunk], ga[kLruChunk];
  bool reset[kLruChunk];
};

__global__ void rglru_local_k(float* out, float* decay, const float* x, const float* gxp, const float* gap,
                              const void* rp, WDt dt, const int64_t* positions, int64_t pos0, int64_t T, int64_t C) {
  pdl_trigger();
  pdl_wait();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t chunks = lru_chunks(T);
  if (i >= chunks * C) return;
  const int64_t k = i / C, c = i % C, t0 = k * kLruChunk;
  const int n = int(min(kLruChunk, T - t0));
  const float sp = softplus_f(ldw(rp, dt, c));
  LruChunkInputs in;
#pragma unroll
  for (int j = 0; j < kLruChunk; ++j)
    if (j < n) {
      const int64_t e = (t0 + j) * C + c;
      in.x[j] = x[e];
      in.gx[j] = gxp[e];
      in.ga[j] = gap[e];
      in.reset[j] = lru_reset(positions, pos0, t0 + j);
    }
  float h = 0.0f, prod = 1.0f;
#pragma unroll
  for (int j = 0; j < kLruChunk; ++j)
    if (j < n) {
      const LruStep s = lru_coeffs(in.x[j], in.gx[j], in.ga[j], sp, in.reset[j]);
      h = s.a * h + s.b;
      prod *= s.a;
      out[(t0 + j) * C + c] = h;
    }
  decay[i] = prod;
}

// enter[k * C + c] = the state entering chunk k; hstate = the state after the last step.
__global__ void rglru_carry_k(float* enter, const float* decay, const float* out, float* hstate, int64_t T,
                              int64_t C) {
  pdl_trigger();
  pdl_wait();
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  const int64_t chunks = lru_chunks(T);
  float h = hstate[c];
  // The chunks' decays and last outputs do not depend on h: a group of them is loaded before it is walked,
  // so that the walk waits for one load latency a group, not one a chunk.
  constexpr int kGroup = 8;
  for (int64_t k0 = 0; k0 < chunks; k0 += kGroup) {
    float d[kGroup], e[kGroup];
#pragma unroll
    for (int j = 0; j < kGroup; ++j) {
      const int64_t k = k0 + j;
      if (k < chunks) {
        d[j] = decay[k * C + c];
        e[j] = out[(min(T, (k + 1) * kLruChunk) - 1) * C + c];
      }
    }
#pragma unroll
    for (int j = 0; j < kGroup; ++j) {
      const int64_t k = k0 + j;
      if (k < chunks) {
        enter[k * C + c] = h;
        h = d[j] * h + e[j];
      }
    }
  }
  hstate[c] = h;
}

__global__ void rglru_fix_k(float* out, const float* enter, const float* gap, const void* rp, WDt dt,
                            const int64_t* positions, int64_t pos0, int64_t T, int64_t C) {
  pdl_trigger();
  pdl_wait();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t chunks = lru_chunks(T);
  if (i >= chunks * C) return;
  const int64_t k = i / C, c = i % C, t0 = k * kLruChunk;
  const float h0 = enter[i];
  if (h0 == 0.0f) return;
  const int n = int(min(kLruChunk, T - t0));
  const float sp = softplus_f(ldw(rp, dt, c));
  float ga[kLruChunk], o[kLruChunk];  // loaded before any store, as in rglru_local_k
  bool reset[kLruChunk];
#pragma unroll
  for (int j = 0; j < kLruChunk; ++j)
    if (j < n) {
      ga[j] = gap[(t0 + j) * C + c];
      o[j] = out[(t0 + j) * C + c];
      reset[j] = lru_reset(positions, pos0, t0 + j);
    }
  float prod = 1.0f;
#pragma unroll
  for (int j = 0; j < kLruChunk; ++j)
    if (j < n) {
      // from a reset on, the chunk's scan no longer depends on the entering state
      if (reset[j]) return;
      prod *= expf(lru_log_decay(ga[j], sp));
      out[(t0 + j) * C + c] = o[j] + prod * h0;
    }
}

constexpr int kLanes = 4;        // lanes per channel
constexpr int kMaxPerLane = 16;  // N <= 64

// One channel of the selective scan: lane l of its kLanes lanes holds the P state entries n = l P .. l P + P - 1
// (those past N hold zeros and stay zero). Four lanes of four entries each (N = 16) do per step what sixteen
// lanes of one did, without repeating the channel's loads, its output sum and its D x on every entry's lane.
template <int P>
struct ScanChannel {
  float a[P], h[P];
  float dv;
};

// Inactive channels (past Din) hold zeros: they still take part in the shuffles.
template <int P>
__device__ __forceinline__ ScanChannel<P> scan_channel(const void* A_log, WDt adt, const void* Dv, WDt ddt,
                                                       const float* state, int64_t d, int64_t N, int lane,
                                                       bool active) {
  ScanChannel<P> ch;
#pragma unroll
  for (int r = 0; r < P; ++r) {
    const int64_t n = int64_t(lane) * P + r;
    const bool on = active && n < N;
    ch.a[r] = on ? -expf(ldw(A_log, adt, d * N + n)) : 0.0f;
    ch.h[r] = on ? state[d * N + n] : 0.0f;
  }
  ch.dv = active ? ldw(Dv, ddt, d) : 0.0f;
  return ch;
}

// One step: h = exp(dt a) h + dt B x, and the channel's output C . h + D x (the same on every lane). b and c
// hold the lane's entries of B and C (zeros past N).
template <int P>
__device__ __forceinline__ float scan_step(ScanChannel<P>& ch, float xt, float dt, const float (&b)[P],
                                           const float (&c)[P]) {
  float acc = 0.0f;
#pragma unroll
  for (int r = 0; r < P; ++r) {
    ch.h[r] = expf(dt * ch.a[r]) * ch.h[r] + (dt * b[r]) * xt;
    acc += ch.h[r] * c[r];
  }
#pragma unroll
  for (int o = kLanes / 2; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o, kLanes);
  return acc + ch.dv * xt;
}

template <int P>
__device__ __forceinline__ void store_scan_state(const ScanChannel<P>& ch, float* state, int64_t d, int64_t N,
                                                 int lane, bool active) {
#pragma unroll
  for (int r = 0; r < P; ++r) {
    const int64_t n = int64_t(lane) * P + r;
    if (active && n < N) state[d * N + n] = ch.h[r];
  }
}

template <int P>
__global__ void selective_scan_k(float* y, const float* x, const float* delta, const void* A_log, WDt adt,
                                 const float* B, const float* Cm, const void* Dv, WDt ddt, float* state, int64_t T,
                                 int64_t Din, int64_t N) {
  pdl_trigger();
  pdl_wait();
  const int64_t g = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) / kLanes;
  const int lane = threadIdx.x % kLanes;
  const bool active = g < Din;
  const int64_t d = active ? g : 0;
  ScanChannel<P> ch = scan_channel<P>(A_log, adt, Dv, ddt, state, d, N, lane, active);
  for (int64_t t = 0; t < T; ++t) {
    const float xt = active ? x[t * Din + d] : 0.0f;
    const float dt = active ? delta[t * Din + d] : 0.0f;
    float b[P], c[P];
#pragma unroll
    for (int r = 0; r < P; ++r) {
      const int64_t n = int64_t(lane) * P + r;
      b[r] = n < N ? B[t * N + n] : 0.0f;
      c[r] = n < N ? Cm[t * N + n] : 0.0f;
    }
    const float yt = scan_step<P>(ch, xt, dt, b, c);
    if (active && lane == 0) y[t * Din + d] = yt;
  }
  store_scan_state<P>(ch, state, d, N, lane, active);
}

// The lane's P entries of a staged row of B or C, 16 or 8 bytes at a time where P allows (rows are kLanes * P
// floats, 16-byte aligned).
template <int P>
__device__ __forceinline__ void load_lane_entries(float (&dst)[P], const float* row, int lane) {
  const float* src = row + lane * P;
  if constexpr (P % 4 == 0) {
#pragma unroll
    for (int r = 0; r < P; r += 4) {
      const float4 v = *reinterpret_cast<const float4*>(src + r);
      dst[r] = v.x, dst[r + 1] = v.y, dst[r + 2] = v.z, dst[r + 3] = v.w;
    }
  } else if constexpr (P == 2) {
    const float2 v = *reinterpret_cast<const float2*>(src);
    dst[0] = v.x, dst[1] = v.y;
  } else {
#pragma unroll
    for (int r = 0; r < P; ++r) dst[r] = src[r];
  }
}

constexpr int kScanGroups = 32;  // channels a block takes (kScanGroups x kLanes threads)
constexpr int kScanTile = 32;    // steps whose inputs selective_scan_staged_k holds in shared memory at once

__host__ __device__ constexpr int64_t scan_staged_floats(int P) {
  return 2 * int64_t(kScanTile) * (2 * kScanGroups + 2 * kLanes * P);  // two buffers
}

// Many steps (prefill): each block stages the next kScanTile steps of its channels' x and delta and of B and C
// in shared memory (asynchronous copies, two buffers) while it walks the current ones, so that a step no longer
// waits for its own loads (selective_scan_k's 2,048-step calls were chains of 2,048 memory latencies). Both
// kernels take each step through scan_step, so their results agree bit for bit. Few steps (decode) stay with
// selective_scan_k: the staging's barriers cost a one-step call more than its loads.
template <int P>
__global__ void __launch_bounds__(kScanGroups * kLanes)
    selective_scan_staged_k(float* y, const float* x, const float* delta, const void* A_log, WDt adt, const float* B,
                            const float* Cm, const void* Dv, WDt ddt, float* state, int64_t T, int64_t Din, int64_t N) {
  pdl_trigger();
  pdl_wait();
  constexpr int Ns = kLanes * P;  // staged row of B or C, zero past N
  const int k = int(threadIdx.x) / kLanes, lane = int(threadIdx.x) % kLanes;
  const int64_t d0 = int64_t(blockIdx.x) * kScanGroups, g = d0 + k;
  const bool active = g < Din;  // inactive groups still take part in the shuffles
  const int64_t d = active ? g : 0;
  // per buffer: x [tile][groups], delta [tile][groups], B [tile][Ns], C [tile][Ns]
  extern __shared__ float4 staged_words[];
  float* staged = reinterpret_cast<float*>(staged_words);
  constexpr int per_buffer = kScanTile * (2 * kScanGroups + 2 * Ns);
  const auto stage = [&](int64_t tile, int buf) {
    float* xs = staged + buf * per_buffer;
    float* ds = xs + kScanTile * kScanGroups;
    float* bs = ds + kScanTile * kScanGroups;
    float* cs = bs + kScanTile * Ns;
    const int64_t t0 = tile * kScanTile;
    for (int e = threadIdx.x; e < kScanTile * kScanGroups; e += blockDim.x) {
      const int64_t t = t0 + e / kScanGroups, c = d0 + e % kScanGroups;
      if (t < T && c < Din) {
        __pipeline_memcpy_async(xs + e, x + t * Din + c, sizeof(float));
        __pipeline_memcpy_async(ds + e, delta + t * Din + c, sizeof(float));
      }
    }
    for (int e = threadIdx.x; e < kScanTile * Ns; e += blockDim.x) {
      const int64_t t = t0 + e / Ns, n = e % Ns;
      if (t >= T) continue;
      if (n < N) {
        __pipeline_memcpy_async(bs + e, B + t * N + n, sizeof(float));
        __pipeline_memcpy_async(cs + e, Cm + t * N + n, sizeof(float));
      } else {
        bs[e] = 0.0f;
        cs[e] = 0.0f;
      }
    }
    __pipeline_commit();
  };
  ScanChannel<P> ch = scan_channel<P>(A_log, adt, Dv, ddt, state, d, N, lane, active);
  const int64_t tiles = (T + kScanTile - 1) / kScanTile;
  stage(0, 0);
  for (int64_t i = 0; i < tiles; ++i) {
    if (i + 1 < tiles) {
      stage(i + 1, int((i + 1) & 1));
      __pipeline_wait_prior(1);
    } else {
      __pipeline_wait_prior(0);
    }
    __syncthreads();
    const float* xs = staged + (i & 1) * per_buffer;
    const float* ds = xs + kScanTile * kScanGroups;
    const float* bs = ds + kScanTile * kScanGroups;
    const float* cs = bs + kScanTile * Ns;
    const int steps = int(min(int64_t(kScanTile), T - i * kScanTile));
    float* yt_out = y + i * kScanTile * Din + d;
#pragma unroll 4
    for (int j = 0; j < steps; ++j) {
      float b[P], c[P];
      load_lane_entries<P>(b, bs + j * Ns, lane);
      load_lane_entries<P>(c, cs + j * Ns, lane);
      const float xt = active ? xs[j * kScanGroups + k] : 0.0f;
      const float dt = active ? ds[j * kScanGroups + k] : 0.0f;
      const float yt = scan_step<P>(ch, xt, dt, b, c);
      if (active && lane == 0) yt_out[int64_t(j) * Din] = yt;
    }
    __syncthreads();  // every group is done with this buffer before it is staged again
  }
  store_scan_state<P>(ch, state, d, N, lane, active);
}

template <int P>
void launch_selective_scan_p(float* y, const float* x, const float* delta, const void* A_log, WDt adt,
                             const float* B, const float* C, const void* D, WDt ddt, float* state, int64_t T,
                             int64_t Din, int64_t N, cudaStream_t s) {
  const int threads = kScanGroups * kLanes;
  if (T < kScanTile) {
    launch_pdl(selective_scan_k<P>, blocks_for(Din * kLanes, threads), threads, s, y, x, delta, A_log, adt, B, C, D,
               ddt, state, T, Din, N);
    return;
  }
  launch_after_shared(selective_scan_staged_k<P>, blocks_for(Din, kScanGroups), threads,
                      size_t(scan_staged_floats(P)) * sizeof(float), s, y, x, delta, A_log, adt, B, C, D, ddt, state,
                      T, Din, N);
}

}  // namespace

void launch_conv1d(float* out, const float* x, const void* w, WDt dt, const void* bias, WDt bdt, float* state,
                   int64_t T, int64_t C, int64_t width, cudaStream_t s) {
  if (T <= 0 || C <= 0) return;
  if (T <= kGemvMaxRows) {
    launch_pdl(conv1d_few_k, blocks_for(C, 128), 128, s, out, x, w, dt, bias, bdt, state, T, C, width);
    return;
  }
  if (width <= kConvMaxWidth)
    launch_pdl(conv1d_steps_k, dim3(unsigned((C + 127) / 128), unsigned((T + kConvSteps - 1) / kConvSteps)), 128, s,
               out, x, w, dt, bias, bdt, state, T, C, int(width));
  else
    launch_pdl(conv1d_k, stride_blocks(T * C, 256), 256, s, out, x, w, dt, bias, bdt, state, T, C, width);
  if (width > 1) launch_pdl(conv1d_state_k, blocks_for(C, 256), 256, s, state, x, T, C, width - 1);
}

int64_t rglru_workspace_floats(int64_t T, int64_t C) {
  return T < 2 * kLruChunk ? 0 : 2 * lru_chunks(T) * C;
}

void launch_rglru(float* out, const float* x, const float* gxp, const float* gap, const void* rp, WDt dt,
                  const int64_t* positions, int64_t pos0, float* h, float* work, int64_t T, int64_t C,
                  cudaStream_t s) {
  if (T <= 0 || C <= 0) return;
  if (rglru_workspace_floats(T, C) == 0) {
    launch_pdl(rglru_k, blocks_for(C, 64), 64, s, out, x, gxp, gap, rp, dt, positions, pos0, h, T, C);
    return;
  }
  const int64_t n = lru_chunks(T) * C;
  float* decay = work;
  float* enter = work + n;
  launch_pdl(rglru_local_k, blocks_for(n, 128), 128, s, out, decay, x, gxp, gap, rp, dt, positions, pos0, T, C);
  launch_pdl(rglru_carry_k, blocks_for(C, 128), 128, s, enter, decay, out, h, T, C);
  launch_pdl(rglru_fix_k, blocks_for(n, 128), 128, s, out, enter, gap, rp, dt, positions, pos0, T, C);
}

bool launch_selective_scan(float* y, const float* x, const float* delta, const void* A_log, WDt adt, const float* B,
                           const float* C, const void* D, WDt ddt, float* state, int64_t T, int64_t Din, int64_t N,
                           cudaStream_t s) {
  const int64_t per_lane = (N + kLanes - 1) / kLanes;
  if (per_lane > kMaxPerLane) return false;
  if (T <= 0 || Din <= 0) return true;
  // entries per lane, rounded up to a power of two (N = 16, Jamba's and Mamba's: 4)
  if (per_lane <= 1)
    launch_selective_scan_p<1>(y, x, delta, A_log, adt, B, C, D, ddt, state, T, Din, N, s);
  else if (per_lane <= 2)
    launch_selective_scan_p<2>(y, x, delta, A_log, adt, B, C, D, ddt, state, T, Din, N, s);
  else if (per_lane <= 4)
    launch_selective_scan_p<4>(y, x, delta, A_log, adt, B, C, D, ddt, state, T, Din, N, s);
  else if (per_lane <= 8)
    launch_selective_scan_p<8>(y, x, delta, A_log, adt, B, C, D, ddt, state, T, Din, N, s);
  else
    launch_selective_scan_p<16>(y, x, delta, A_log, adt, B, C, D, ddt, state, T, Din, N, s);
  return true;
}

}  // namespace hl::cuda
