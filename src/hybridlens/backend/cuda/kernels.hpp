#pragma once
// Launchers of the CUDA kernels, in plain types so that the .cu files compile without the project's C++20
// headers. Every launcher queues its kernels on `stream` and returns without synchronising; the caller
// checks cudaGetLastError (cuda_check.hpp). Weights are passed as (pointer, WDt) and read as stored.
#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

namespace hl::cuda {

enum class WDt : int { F32 = 0, BF16 = 1, F16 = 2 };
enum class Act : int { GeluTanh = 0, Silu = 1, Softplus = 2 };

// --- elementwise and row operations (elementwise.cu) -------------------------------------------------
void launch_embed(float* out, const void* table, WDt dt, const int32_t* ids, int64_t T, int64_t D, float scale,
                  cudaStream_t s);
void launch_rms_norm(float* out, const float* x, const void* w, WDt dt, int64_t T, int64_t C, float eps,
                     bool one_plus, cudaStream_t s);
// x += t (row by row), then h = rms_norm(x) as launch_rms_norm: one pass instead of two launches.
void launch_add_rms_norm(float* x, const float* t, float* h, const void* w, WDt dt, int64_t T, int64_t C, float eps,
                         bool one_plus, cudaStream_t s);
void launch_activation(float* out, const float* a, const float* b, int64_t n, Act act, cudaStream_t s);
// out = act(a) * b rounded to bf16 as launch_to_bf16 rounds (the input of a bf16 product).
void launch_activation_mul_bf16(uint16_t* out, const float* a, const float* b, int64_t n, Act act, cudaStream_t s);
void launch_soft_cap(float* x, int64_t n, float cap, cudaStream_t s);
// out[r] (device) = argmax of row r of x [R, N] by core/argmax.hpp's rule (argmax.cu); scratch: device memory of
// argmax_scratch_bytes(R, N)
constexpr int64_t kArgmaxMaxSlices = 128;
size_t argmax_scratch_bytes(int64_t R, int64_t N);
void launch_argmax_rows(int32_t* out, void* scratch, const float* x, int64_t R, int64_t N, cudaStream_t s);
void launch_add(float* x, const float* y, int64_t n, cudaStream_t s);
// x0 [T, heads0 * head_dim] and x1 [T, heads1 * head_dim] (heads1 = 0: none) rotated in one launch;
// inv_freq: device [rot_dims / 2], computed on the host exactly as the CPU does.
void launch_rotary(float* x0, float* x1, int64_t T, int heads0, int heads1, int head_dim, int rot_dims,
                   const float* inv_freq, int64_t first_pos, cudaStream_t s);
// The rows of a gather or scatter (and the scatter's weights): device arrays, or for up to kFewRows rows
// (a decode step's MoE routing) the values themselves in the kernel's arguments, so that nothing is uploaded.
constexpr int kFewRows = 8;
struct RowList {
  const int32_t* rows;     // device [R], or null: use few_rows
  const float* weights;    // device [R], or null: use few_weights (scatter only)
  int32_t few_rows[kFewRows];
  float few_weights[kFewRows];
};
void launch_gather_rows(float* out, const float* x, const RowList& rows, int64_t R, int64_t W, cudaStream_t s);
// y[rows[i]] += weights[i] * src[i] in list order; distinct: no row repeats (then all rows at once).
void launch_scatter_add_rows(float* y, const float* src, const RowList& rows, int64_t R, int64_t W, bool distinct,
                             cudaStream_t s);
// dst[i] = src[i] converted to bf16 (round to nearest even), or to f32 from any weight dtype.
void launch_to_bf16(uint16_t* dst, const float* src, int64_t n, cudaStream_t s);
// dst[i] = core/uniform_fill.hpp's value i of `stream`, rounded to dt as the host rounds it
void launch_fill_uniform(void* dst, WDt dt, int64_t n, float lo, float hi, uint64_t stream, cudaStream_t s);
void launch_to_f32(float* dst, const void* src, WDt dt, int64_t n, cudaStream_t s);
// out[t, n] = bias[n] (or 0) for t < T, n < N with row stride ldo.
void launch_fill_bias(float* out, const void* bias, WDt dt, int64_t T, int64_t N, int64_t ldo, cudaStream_t s);

// --- matrix products that cuBLAS does not cover well (gemv.cu) ---------------------------------------
// Few-row products (T <= kGemvMaxRows): out[t, n] = bias[n] + sum_k x[t, k] w[n, k], fp32 arithmetic.
constexpr int64_t kGemvMaxRows = 8;
// Up to kMaxGemvParts few-row products of one input x [T, K] in one launch: part p writes out[p] [T, N[p]]
// from w[p] [N[p], K] and bias[p] (null: none); every part's weights and biases share one dtype each.
constexpr int kMaxGemvParts = 4;
struct GemvParts {
  float* out[kMaxGemvParts];
  const void* w[kMaxGemvParts];
  const void* bias[kMaxGemvParts];
  int64_t N[kMaxGemvParts];
  int count;
};
void launch_gemv_parts(const GemvParts& parts, const float* x, WDt dt, WDt bdt, int64_t T, int64_t K, cudaStream_t s);
// out[t, n] = act(gate_n) * up_n with gate_n, up_n the few-row products of w_gate and w_up (same shape,
// same dtype) with their biases; one warp reads both weight rows of its column n.
void launch_gated_gemv(float* out, const float* x, const void* wg, const void* bg, const void* wu, const void* bu,
                       WDt dt, WDt bdt, int64_t T, int64_t K, int64_t N, Act act, cudaStream_t s);
// Warps that share one column's K in the few-row kernels: a function of K alone, so that every kernel and
// every grouping of products (linear_parts, one linear each) sums a column in the same order.
int gemv_splits(int64_t K);
// The same products for one row (decode of one sequence) by a persistent grid whose warps keep their next
// weight loads in flight (gemv.cu's gemv_stream_k): the same sums as the kernels above, bit for bit. Other row
// counts, unaligned weights or x, or K not a multiple of 8 go to the kernels above.
void launch_gemv_stream(const GemvParts& parts, const float* x, WDt dt, WDt bdt, int64_t T, int64_t K,
                        cudaStream_t s);
void launch_gated_gemv_stream(float* out, const float* x, const void* wg, const void* bg, const void* wu,
                              const void* bu, WDt dt, WDt bdt, int64_t T, int64_t K, int64_t N, Act act,
                              cudaStream_t s);
// Block-diagonal, W [blocks, bw, bw] stored (in, out): out[t, h bw + j] = b[h, j] + sum_i x[t, h bw + i] W[h, i, j].
void launch_block_diag(float* out, const float* x, const void* w, WDt dt, const void* b, WDt bdt, int64_t T,
                       int64_t blocks, int64_t bw, cudaStream_t s);
// Several block-diagonal products of one x in one launch (same shapes and dtypes; T <= kGemvMaxRows).
// Returns false, launching nothing, when the widths or the alignment rule the one-launch kernel out.
struct BlockDiagParts {
  float* out[kMaxGemvParts];
  const void* w[kMaxGemvParts];
  const void* bias[kMaxGemvParts];
  int count;
};
bool launch_block_diag_parts(const BlockDiagParts& parts, const float* x, WDt dt, WDt bdt, int64_t T, int64_t blocks,
                             int64_t bw, cudaStream_t s);

// The RG-LRU block of a decode step, T rows (one per state, T <= kGemvMaxRows) in one launch: gates from the
// block-diagonal products of x (w_x, w_a [blocks, bw, bw] stored (in, out), biases [blocks, bw] or null, one
// dtype each), then per row t h' = a h[t] + b (rglru_scan's step at position pos[t]) and
// out[t] = act(y[t]) * h'. Returns false, launching nothing, for widths or alignments the kernel does not take.
struct RglruBlockArgs {
  float* out;
  const float* y;
  const void *w_x, *b_x, *w_a, *b_a;
  const void* rp;  // recurrent_param [C]
  WDt rdt;
  float* h[kGemvMaxRows];
  int64_t pos[kGemvMaxRows];
  Act act;
};
bool launch_rglru_block(const RglruBlockArgs& args, const float* x, WDt dt, WDt bdt, int64_t T, int64_t blocks,
                        int64_t bw, cudaStream_t s);

// --- sequence operations (sequence.cu) ---------------------------------------------------------------
void launch_conv1d(float* out, const float* x, const void* w, WDt dt, const void* bias, WDt bdt, float* state,
                   int64_t T, int64_t C, int64_t width, cudaStream_t s);
// positions: device [T], or null when they run pos0, pos0 + 1, ... (then nothing is uploaded).
// work: rglru_workspace_floats(T, C) floats (none for few steps, which walk time per channel).
int64_t rglru_workspace_floats(int64_t T, int64_t C);
void launch_rglru(float* out, const float* x, const float* gxp, const float* gap, const void* rp, WDt dt,
                  const int64_t* positions, int64_t pos0, float* h, float* work, int64_t T, int64_t C,
                  cudaStream_t s);
// Returns false when N is beyond what the kernel supports.
bool launch_selective_scan(float* y, const float* x, const float* delta, const void* A_log, WDt adt, const float* B,
                           const float* C, const void* D, WDt ddt, float* state, int64_t T, int64_t Din, int64_t N,
                           cudaStream_t s);

// --- attention with the lens (attention.cu) -----------------------------------------------------------
constexpr int kMaxHeadDim = 512;

struct AttnArgs {
  const float* q;        // [T, H * D]
  const float* k_new;    // [T, KVH * D]
  const float* v_new;
  const float* cache_k;  // [capacity, KVH * D], position p in slot p % capacity
  const float* cache_v;
  float* out;            // [T, H * D]
  int64_t T, first_pos, capacity, window;
  int H, KVH, D;
  float scale;
  int64_t span_begin, span_end;  // needle [begin, end); empty when no span is needed
  // Decode (plan_key_splits): each (query, head) is `splits` blocks of `chunk` consecutive keys, whose
  // partial statistics and outputs go to the workspace for the second pass to combine.
  int splits;
  int64_t chunk;
  void* workspace;
};

// Chooses a.splits and a.chunk for a decode call; returns the workspace bytes its two passes need.
size_t plan_key_splits(AttnArgs& a, int multiprocessors);

// Per (query, head) statistics of the unmanipulated probabilities; [T, H] each.
struct AttnStats {
  float* m;        // max score
  float* z;        // sum exp(s - m)
  float* entropy;  // nats
  float* mass;     // needle mass
  int32_t* top1;   // absolute position, lowest on ties
  int32_t* visible;  // needle positions visible to the query
};

struct SelectArgs {
  int keep_k;      // < 0: keep all
  int rank;        // HeadRank as int
  uint64_t seed;
  int layer;
  const uint8_t* fixed_mask;  // device [H] or null
  uint8_t* keep;              // [T, H]
};

// Attention for few queries (attention.cu's two passes, a.workspace as planned): statistics, head selection
// (sel.keep), outputs (manipulation 0..4 = Keep, Omit, Only, Binary, Null; binary_layer_mean as in the lens),
// and the call's keys and values stored into the ring (cache_k/cache_v, a.cache_k/a.cache_v writable).
void launch_attention_decode(const AttnArgs& a, const AttnStats& st, const SelectArgs& sel, int manipulation,
                             bool binary_layer_mean, float* cache_k, float* cache_v, cudaStream_t s);
// per-token head selection (ties: lower head index), same rules as lens/head_selection.hpp, for the call's
// queries t_begin .. t_end - 1
void launch_head_select(const AttnArgs& a, const AttnStats& st, const SelectArgs& sel, int64_t t_begin, int64_t t_end,
                        cudaStream_t s);
// --- attention for many queries as matrix products (attention_rows.cu) ---------------------------------
// A block of queries t0 .. t0 + Tb - 1 of the call against the keys of positions key0 .. key0 + Kn - 1;
// s: [H, Tb, ld], row (h, t - t0) = the scores of query t, head h (then its weights, in place).
struct RowBlock {
  float* s;
  uint16_t* w3;  // null, or the weights in three fp16 passes: row r at 3 ld r, key j's [hi, lo, hi] at 3 j
  int64_t t0, Tb;
  int64_t key0, Kn;
  int64_t ld;    // row stride of s and the key count the products run over: Kn rounded up (aligned for
                 // cuBLAS); the keys after Kn are weighted 0
};
// Three fp16 passes (attention_fp16.cu): x 2^e = hi + lo, hi and lo fp16, with e per operand from its
// largest magnitude (bits[0..2]: queries, keys, values, from launch_absmax3); the weights, at most 1, are
// scaled by 2^kFp16WeightExponent. The products' alphas (out[0]: score_scale 2^-(eq + ek); out[1]:
// 2^-(kFp16WeightExponent + ev); out[2] = 0, the beta) are written by the queries' split.
constexpr int kFp16WeightExponent = 14;
struct Fp16Factors {
  float* out;  // device [3], or null
  float score_scale;
};
// bits[y] = the bit pattern of max |x_y| over n_y floats, y = 0..2 (bits zeroed before)
void launch_absmax3(unsigned* bits, const float* x0, int64_t n0, const float* x1, int64_t n1, const float* x2,
                    int64_t n2, cudaStream_t s);
// fp16 halves, 3 D a vector: [hi | lo | hi] (keys) or [hi | hi | lo] (queries) of src 2^e, e from bits[which]
void launch_split_fp16(uint16_t* dst, const float* src, int64_t vecs, int D, bool lo_middle, const unsigned* bits,
                       int which, const Fp16Factors& f, cudaStream_t s);
// fp16 halves, rows 3 r, 3 r + 1, 3 r + 2 = hi, hi, lo of src row r (width floats) 2^e (the values)
void launch_split_fp16_rows(uint16_t* dst, const float* src, int64_t rows, int64_t width, const unsigned* bits,
                            int which, cudaStream_t s);
// kc/vc [n, KVH * D]: the keys/values of positions from .. from + n - 1, contiguous
void launch_gather_keys(float* kc, float* vc, const AttnArgs& a, int64_t from, int64_t n, cudaStream_t s);
// the statistics of attention.cu's stats pass, from the score rows
void launch_row_stats(const AttnArgs& a, const AttnStats& st, const RowBlock& b, cudaStream_t s);
// score rows -> manipulated weights (zero rows for dropped heads and null)
void launch_row_weights(const AttnArgs& a, const AttnStats& st, const RowBlock& b, const uint8_t* keep,
                        int manipulation, bool binary_layer_mean, cudaStream_t s);

// stores the newest min(T, capacity) keys/values of the call into the ring
void launch_store_kv(float* cache_k, float* cache_v, const float* k_new, const float* v_new, int64_t T,
                     int64_t first_pos, int64_t capacity, int64_t row, cudaStream_t s);

}  // namespace hl::cuda
