// CudaBackend::attention: argument checks as the CPU's; then, for few queries (decode), the two passes of
// attention.cu (per key chunk: statistics and partial outputs; per query and head: merge, head selection,
// output, KV ring update), for many (prefill) the matrix-product path of cuda_attention_products.cpp and
// then the KV ring update; the lens's recordings are queued for the host (they arrive at the next to_host
// or finish).
// Selection needs every head's complete entropy before any output is formed, which is why the passes are
// separate kernels and not one.
#include <algorithm>
#include <vector>

#include "hybridlens/backend/cuda/checks.hpp"
#include "hybridlens/backend/cuda/cuda_backend.hpp"
#include "hybridlens/backend/cuda/cuda_check.hpp"
#include "hybridlens/backend/cuda/kernels.hpp"

namespace hl::cuda {
namespace {

void check_inputs(const Tensor& out, const Tensor& q, const Tensor& k_new, const Tensor& v_new, const KVCache& cache,
                  const AttentionSpec& s, int64_t first_pos) {
  const char* op = "attention";
  check_defined(op, "q", q);
  check_defined(op, "out", out);
  check_defined(op, "k_new", k_new);
  check_defined(op, "v_new", v_new);
  check_defined(op, "cache.k", cache.k);
  check_defined(op, "cache.v", cache.v);
  HL_CHECK(s.heads > 0 && s.kv_heads > 0 && s.head_dim > 0 && s.heads % s.kv_heads == 0, "attention: heads ", s.heads,
           " must be a positive multiple of kv_heads ", s.kv_heads);
  HL_CHECK(s.head_dim <= kMaxHeadDim, "attention: head_dim ", s.head_dim, " is larger than the CUDA kernel supports (",
           kMaxHeadDim, ")");
  const int64_t T = q.dim(0);
  const int64_t qw = int64_t(s.heads) * s.head_dim, kw = int64_t(s.kv_heads) * s.head_dim;
  HL_CHECK(q.dtype() == DType::F32 && q.ndim() == 2 && q.dim(1) == qw, "attention: q is ", q.describe(),
           ", expected F32[T, ", qw, "]");
  HL_CHECK(out.dtype() == DType::F32 && out.shape() == q.shape(), "attention: out is ", out.describe(), ", expected ",
           q.describe());
  for (const Tensor* t : {&k_new, &v_new})
    HL_CHECK(t->dtype() == DType::F32 && t->ndim() == 2 && t->dim(0) == T && t->dim(1) == kw,
             "attention: new keys/values are ", t->describe(), ", expected F32[", T, ", ", kw, "]");
  HL_CHECK(cache.k.dtype() == DType::F32 && cache.v.dtype() == DType::F32 && cache.capacity > 0 &&
               cache.k.numel() == cache.capacity * kw && cache.v.numel() == cache.capacity * kw,
           "attention: cache tensors do not match capacity ", cache.capacity);
  HL_CHECK(cache.length == first_pos, "attention: cache holds ", cache.length, " positions but the call starts at position ",
           first_pos);
  const int64_t oldest_needed = s.window > 0 ? std::max<int64_t>(0, first_pos - s.window + 1) : 0;
  HL_CHECK(first_pos - oldest_needed <= cache.capacity, "attention: cache capacity ", cache.capacity,
           " cannot hold the ", first_pos - oldest_needed, " earlier positions the queries need");
  HL_CHECK(T * s.heads < (int64_t(1) << 31), "attention: ", T, " queries x ", s.heads, " heads is too many for one call");
}

}  // namespace

void CudaBackend::attention(Tensor& out, const Tensor& q, const Tensor& k_new, const Tensor& v_new, KVCache& cache,
                            const AttentionSpec& spec, int64_t first_pos, const AttentionLens* lens) {
  const char* op = "attention";
  const auto timed = profile_.time(op);
  check_inputs(out, q, k_new, v_new, cache, spec, first_pos);
  const int64_t T = q.dim(0), H = spec.heads;
  const int64_t row = int64_t(spec.kv_heads) * spec.head_dim;
  const AttentionLens plain;
  const AttentionLens& L = lens ? *lens : plain;
  const bool needs_span =
      L.span_mass || (L.manipulation != Manipulation::Keep && L.manipulation != Manipulation::Null);

  AttnArgs a{};
  a.q = q.data<float>();
  a.k_new = k_new.data<float>();
  a.v_new = v_new.data<float>();
  a.cache_k = cache.k.data<float>();
  a.cache_v = cache.v.data<float>();
  a.out = out.data<float>();
  a.T = T;
  a.first_pos = first_pos;
  a.capacity = cache.capacity;
  a.window = spec.window;
  a.H = spec.heads;
  a.KVH = spec.kv_heads;
  a.D = spec.head_dim;
  a.scale = spec.scale;
  a.span_begin = needs_span ? L.span_begin : 0;
  a.span_end = needs_span ? L.span_end : 0;

  bool stored = false;  // the decode kernels store the keys and values themselves
  if (T > 0) {
    // Statistics: m, z, entropy, mass (F32) then top1, visible (I32), then keep (U8), each [H, T]; in the
    // recordings' arena when the lens records any of them (record_staging.hpp), else in scratch memory.
    const int64_t n = H * T;
    const int64_t bytes = n * (4 * 4 + 2 * 4 + 1);
    const bool records = L.entropy || L.span_mass || L.top1 || L.kept;
    Tensor buf;
    char* base = nullptr;
    if (records) {
      base = static_cast<char*>(records_.arena(size_t(bytes)));
    } else {
      buf = scratch(DType::U8, {bytes});
      base = static_cast<char*>(buf.raw());
    }
    AttnStats st{};
    st.m = reinterpret_cast<float*>(base);
    st.z = st.m + n;
    st.entropy = st.z + n;
    st.mass = st.entropy + n;
    st.top1 = reinterpret_cast<int32_t*>(st.mass + n);
    st.visible = st.top1 + n;
    uint8_t* keep = reinterpret_cast<uint8_t*>(st.visible + n);

    SelectArgs sel{};
    sel.keep_k = L.selects_heads() ? L.keep_k : -1;
    sel.rank = int(L.rank);
    sel.seed = L.seed;
    sel.layer = L.layer;
    sel.keep = keep;
    Tensor mask;
    if (L.selects_heads() && L.rank == HeadRank::Fixed && L.keep_k < H && L.fixed_mask) {
      mask = to_device(std::vector<uint8_t>(L.fixed_mask, L.fixed_mask + H), DType::U8);
      sel.fixed_mask = static_cast<const uint8_t*>(mask.raw());
    }
    if (T >= kProductMinQueries) {
      attention_products(a, st, sel, int(L.manipulation), L.binary_layer_mean);
    } else {
      Tensor workspace = scratch(DType::U8, {int64_t(plan_key_splits(a, multiprocessors_))});
      a.workspace = workspace.raw();
      launch_attention_decode(a, st, sel, int(L.manipulation), L.binary_layer_mean, cache.k.data<float>(),
                              cache.v.data<float>(), nullptr);
      check_launch(op);
      stored = true;
    }

    // queued: they reach the host at the next to_host or finish (record_staging.hpp)
    if (L.entropy) records_.queue_arena(L.entropy, L.stride, st.entropy, H, T, sizeof(float));
    if (L.span_mass) records_.queue_arena(L.span_mass, L.stride, st.mass, H, T, sizeof(float));
    if (L.top1) records_.queue_arena(L.top1, L.stride, st.top1, H, T, sizeof(int32_t));
    if (L.kept) records_.queue_arena(L.kept, L.stride, keep, H, T, sizeof(uint8_t));
  }
  if (!stored) {
    launch_store_kv(cache.k.data<float>(), cache.v.data<float>(), k_new.data<float>(), v_new.data<float>(), T,
                    first_pos, cache.capacity, row, nullptr);
    check_launch(op);
  }
  cache.length = first_pos + T;
}

}  // namespace hl::cuda
