#include "hybridlens/backend/cpu/attention.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "hybridlens/backend/cpu/vector_ops.hpp"
#include "hybridlens/core/parallel.hpp"
#include "hybridlens/lens/head_selection.hpp"

namespace hl::cpu {
namespace {

// Statistics of one head's attention row for one query, all on the unmanipulated probabilities.
struct HeadStats {
  float entropy = 0;
  float needle_mass = 0;
  int32_t top1 = -1;
  int64_t needle_visible = 0;
};

struct KeySource {
  const float* cache_k;
  const float* cache_v;
  int64_t capacity;
  const float* new_k;
  const float* new_v;
  int64_t first_pos;
  int64_t row;  // floats per position: kv_heads * head_dim

  // Calls fn(position, keys, values, count) for contiguous runs of memory covering positions [a, b):
  // the cache's ring slots (wrapping at most once), then the keys of this call.
  template <class Fn>
  void for_each_run(int64_t a, int64_t b, Fn&& fn) const {
    int64_t p = a;
    while (p < b) {
      if (p >= first_pos) {
        fn(p, new_k + (p - first_pos) * row, new_v + (p - first_pos) * row, b - p);
        return;
      }
      const int64_t slot = p % capacity;
      const int64_t count = std::min({b, first_pos, p + (capacity - slot)}) - p;
      fn(p, cache_k + slot * row, cache_v + slot * row, count);
      p += count;
    }
  }
};

void check_inputs(const Tensor& out, const Tensor& q, const Tensor& k_new, const Tensor& v_new,
                  const KVCache& cache, const AttentionSpec& s, int64_t first_pos) {
  HL_CHECK(s.heads > 0 && s.kv_heads > 0 && s.head_dim > 0 && s.heads % s.kv_heads == 0,
           "attention: heads ", s.heads, " must be a positive multiple of kv_heads ", s.kv_heads);
  const int64_t T = q.dim(0);
  const int64_t qw = int64_t(s.heads) * s.head_dim, kw = int64_t(s.kv_heads) * s.head_dim;
  HL_CHECK(q.dtype() == DType::F32 && q.ndim() == 2 && q.dim(1) == qw, "attention: q is ", q.describe(),
           ", expected F32[T, ", qw, "]");
  HL_CHECK(out.dtype() == DType::F32 && out.shape() == q.shape(), "attention: out is ", out.describe(),
           ", expected ", q.describe());
  for (const Tensor* t : {&k_new, &v_new})
    HL_CHECK(t->dtype() == DType::F32 && t->ndim() == 2 && t->dim(0) == T && t->dim(1) == kw,
             "attention: new keys/values are ", t->describe(), ", expected F32[", T, ", ", kw, "]");
  HL_CHECK(cache.capacity > 0 && cache.k.numel() == cache.capacity * kw && cache.v.numel() == cache.capacity * kw,
           "attention: cache tensors do not match capacity ", cache.capacity);
  HL_CHECK(cache.length == first_pos, "attention: cache holds ", cache.length,
           " positions but the call starts at position ", first_pos);
  const int64_t oldest_needed = s.window > 0 ? std::max<int64_t>(0, first_pos - s.window + 1) : 0;
  HL_CHECK(first_pos - oldest_needed <= cache.capacity, "attention: cache capacity ", cache.capacity,
           " cannot hold the ", first_pos - oldest_needed, " earlier positions the queries need");
}

// Keeps at most cache.capacity of the newest positions of this call.
void store_keys(KVCache& cache, const Tensor& k_new, const Tensor& v_new, int64_t first_pos, int64_t row) {
  const int64_t T = k_new.dim(0);
  const int64_t from = std::max<int64_t>(0, T - cache.capacity);
  float* ck = cache.k.data<float>();
  float* cv = cache.v.data<float>();
  for (int64_t t = from; t < T; ++t) {
    const int64_t slot = (first_pos + t) % cache.capacity;
    std::copy_n(k_new.data<float>() + t * row, row, ck + slot * row);
    std::copy_n(v_new.data<float>() + t * row, row, cv + slot * row);
  }
  cache.length = first_pos + T;
}

}  // namespace

void attention(Tensor& out, const Tensor& q, const Tensor& k_new, const Tensor& v_new, KVCache& cache,
               const AttentionSpec& spec, int64_t first_pos, const AttentionLens* lens) {
  check_inputs(out, q, k_new, v_new, cache, spec, first_pos);
  const int64_t T = q.dim(0);
  const int H = spec.heads, D = spec.head_dim;
  const int group = spec.heads / spec.kv_heads;
  const int64_t row = int64_t(spec.kv_heads) * D;
  const KeySource src{cache.k.data<float>(), cache.v.data<float>(), cache.capacity,
                      k_new.data<float>(),   v_new.data<float>(),   first_pos,
                      row};
  const AttentionLens plain;
  const AttentionLens& L = lens ? *lens : plain;
  const bool needs_span = L.span_mass || (L.manipulation != Manipulation::Keep && L.manipulation != Manipulation::Null);

  parallel_for(T, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> scores;
    std::vector<HeadStats> stats(static_cast<size_t>(H));
    std::vector<float> acc_in(static_cast<size_t>(D)), acc_out(static_cast<size_t>(D)), acc_sum(static_cast<size_t>(D));
    std::vector<uint8_t> keep(static_cast<size_t>(H));
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t pos = first_pos + t;
      const int64_t lo = spec.window > 0 ? std::max<int64_t>(0, pos - spec.window + 1) : 0;
      const int64_t n = pos - lo + 1;
      const int64_t nb = needs_span ? std::max(lo, L.span_begin) : 0;
      const int64_t ne = needs_span ? std::min(pos + 1, L.span_end) : 0;
      scores.resize(size_t(n) * H);
      // Pass 1: scores, softmax and the statistics of every head.
      for (int h = 0; h < H; ++h) {
        const float* qh = q.data<float>() + t * H * D + int64_t(h) * D;
        const int64_t koff = int64_t(h / group) * D;
        float* s = scores.data() + size_t(h) * n;
        float m = -INFINITY;
        src.for_each_run(lo, pos + 1, [&](int64_t p0, const float* k, const float*, int64_t count) {
          m = scaled_dots(qh, k + koff, row, count, D, spec.scale, s + (p0 - lo), m);
        });
        // With e_j = exp(s_j - m) and Z = sum e_j: H = -sum p log p = log Z - sum(e_j (s_j - m)) / Z.
        double z = 0, es = 0;
        exp_shifted(s, n, m, &z, &es);
        const float inv = float(1.0 / z);
        HeadStats& st = stats[size_t(h)];
        double mass = 0;
        const int64_t best = std::max_element(s, s + n) - s;  // the first maximum
        for (int64_t j = 0; j < n; ++j) s[j] *= inv;
        for (int64_t j = nb; j < ne; ++j) mass += s[j - lo];
        st.entropy = float(std::max(0.0, std::log(z) - es / z));
        st.needle_mass = float(mass);
        st.top1 = int32_t(lo + best);
        st.needle_visible = std::max<int64_t>(0, ne - nb);
      }
      select_heads(L, pos, stats.size(), [&](int h) { return stats[size_t(h)].entropy; }, keep.data());
      float layer_mean_mass = 0;
      if (L.binary_layer_mean) {
        for (const HeadStats& st : stats) layer_mean_mass += st.needle_mass;
        layer_mean_mass /= float(H);
      }
      // Pass 2: the head outputs, needle and non-needle parts accumulated separately.
      for (int h = 0; h < H; ++h) {
        float* o = out.data<float>() + t * H * D + int64_t(h) * D;
        const HeadStats& st = stats[size_t(h)];
        if (L.records()) {
          const int64_t at = int64_t(h) * L.stride + t;
          if (L.entropy) L.entropy[at] = st.entropy;
          if (L.span_mass) L.span_mass[at] = st.needle_mass;
          if (L.top1) L.top1[at] = st.top1;
          if (L.kept) L.kept[at] = keep[size_t(h)];
        }
        if (!keep[size_t(h)] || L.manipulation == Manipulation::Null) {
          std::fill_n(o, D, 0.0f);
          continue;
        }
        const float* s = scores.data() + size_t(h) * n;
        const int64_t voff = int64_t(h / group) * D;
        std::fill(acc_in.begin(), acc_in.end(), 0.0f);
        std::fill(acc_out.begin(), acc_out.end(), 0.0f);
        std::fill(acc_sum.begin(), acc_sum.end(), 0.0f);
        // Non-needle keys [lo, nb) and [ne, pos]; needle keys [nb, ne) into their own sums.
        const auto add = [&](int64_t a, int64_t b, float* acc) {
          src.for_each_run(a, b, [&](int64_t p0, const float*, const float* v, int64_t count) {
            weighted_rows(s + (p0 - lo), v + voff, row, count, D, acc);
          });
        };
        if (nb < ne) {
          add(lo, nb, acc_out.data());
          add(nb, ne, acc_in.data());
          add(ne, pos + 1, acc_out.data());
          if (L.manipulation == Manipulation::Binary)
            src.for_each_run(nb, ne, [&](int64_t, const float*, const float* v, int64_t count) {
              for (int64_t j = 0; j < count; ++j) axpy(1.0f, v + j * row + voff, acc_sum.data(), D);
            });
        } else {
          add(lo, pos + 1, acc_out.data());
        }
        switch (L.manipulation) {
          case Manipulation::Keep:
            for (int d = 0; d < D; ++d) o[d] = acc_out[size_t(d)] + acc_in[size_t(d)];
            break;
          case Manipulation::Omit:
            std::copy(acc_out.begin(), acc_out.end(), o);
            break;
          case Manipulation::Only:
            std::copy(acc_in.begin(), acc_in.end(), o);
            break;
          case Manipulation::Binary: {
            const float mass = L.binary_layer_mean ? layer_mean_mass : st.needle_mass;
            const float c = st.needle_visible > 0 ? mass / float(st.needle_visible) : 0.0f;
            for (int d = 0; d < D; ++d) o[d] = c * acc_sum[size_t(d)];
            break;
          }
          case Manipulation::Null:
            break;
        }
      }
    }
  });
  store_keys(cache, k_new, v_new, first_pos, row);
}

}  // namespace hl::cpu
