// The attention kernel's online lens against a brute-force reference that builds the explicit softmax
// matrix: entropy, needle mass, top-1, head selection and every manipulation, across window, cache ring
// and call boundaries.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "hybridlens/backend/cpu/attention.hpp"

namespace hl {
namespace {

struct Problem {
  int heads, kv_heads, head_dim;
  int64_t window, T;
  std::vector<float> q, k, v;  // [T, heads*D], [T, kv*D], [T, kv*D]
};

Problem make_problem(int heads, int kv, int D, int64_t window, int64_t T, unsigned seed) {
  Problem p{heads, kv, D, window, T, {}, {}, {}};
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0, 1);
  p.q.resize(size_t(T * heads * D));
  p.k.resize(size_t(T * kv * D));
  p.v.resize(size_t(T * kv * D));
  for (auto& x : p.q) x = 1.5f * n(rng);
  for (auto& x : p.k) x = n(rng);
  for (auto& x : p.v) x = n(rng);
  return p;
}

struct Recorded {
  std::vector<float> out, entropy, mass;
  std::vector<int32_t> top1;
  std::vector<uint8_t> kept;
};

// The kernel, fed in the given chunks; recordings laid out [heads, T].
Recorded run_kernel(const Problem& p, const std::vector<int64_t>& cuts, AttentionLens proto) {
  const int64_t qw = p.heads * p.head_dim, kw = p.kv_heads * p.head_dim;
  KVCache cache;
  cache.capacity = p.window > 0 ? p.window : p.T;
  cache.k = Tensor::zeros(DType::F32, {cache.capacity, kw});
  cache.v = Tensor::zeros(DType::F32, {cache.capacity, kw});
  AttentionSpec spec{p.heads, p.kv_heads, p.head_dim, p.window, 1.0f / std::sqrt(float(p.head_dim))};
  Recorded r;
  r.out.resize(size_t(p.T * qw));
  r.entropy.resize(size_t(p.heads * p.T));
  r.mass.resize(r.entropy.size());
  r.top1.resize(r.entropy.size());
  r.kept.resize(r.entropy.size());
  int64_t b = 0;
  std::vector<int64_t> ends = cuts;
  ends.push_back(p.T);
  for (int64_t e : ends) {
    const int64_t n = e - b;
    Tensor q = Tensor::view(const_cast<float*>(p.q.data()) + b * qw, DType::F32, {n, qw}, nullptr);
    Tensor k = Tensor::view(const_cast<float*>(p.k.data()) + b * kw, DType::F32, {n, kw}, nullptr);
    Tensor v = Tensor::view(const_cast<float*>(p.v.data()) + b * kw, DType::F32, {n, kw}, nullptr);
    Tensor out = Tensor::view(r.out.data() + b * qw, DType::F32, {n, qw}, nullptr);
    AttentionLens L = proto;
    L.stride = p.T;
    L.entropy = r.entropy.data() + b;
    L.span_mass = r.mass.data() + b;
    L.top1 = r.top1.data() + b;
    L.kept = r.kept.data() + b;
    cpu::attention(out, q, k, v, cache, spec, b, &L);
    b = e;
  }
  return r;
}

// Brute force: explicit probability matrix per head, then the definitions of METHOD.md.
Recorded run_reference(const Problem& p, const AttentionLens& L) {
  const int H = p.heads, D = p.head_dim, group = p.heads / p.kv_heads;
  Recorded r;
  r.out.assign(size_t(p.T * H * D), 0.0f);
  r.entropy.assign(size_t(H * p.T), 0.0f);
  r.mass = r.entropy;
  r.top1.assign(size_t(H * p.T), 0);
  r.kept.assign(size_t(H * p.T), 0);
  for (int64_t t = 0; t < p.T; ++t) {
    std::vector<std::vector<double>> P(size_t(H), std::vector<double>(size_t(p.T), 0.0));
    std::vector<double> ent(static_cast<size_t>(H)), mass(static_cast<size_t>(H));
    for (int h = 0; h < H; ++h) {
      const int g = h / group;
      double m = -1e300;
      std::vector<double> s(size_t(p.T), -INFINITY);
      for (int64_t j = 0; j <= t; ++j) {
        if (p.window > 0 && j <= t - p.window) continue;
        double d = 0;
        for (int x = 0; x < D; ++x) d += double(p.q[size_t((t * H + h) * D + x)]) * p.k[size_t((j * p.kv_heads + g) * D + x)];
        s[size_t(j)] = d / std::sqrt(double(D));
        m = std::max(m, s[size_t(j)]);
      }
      double z = 0;
      for (int64_t j = 0; j <= t; ++j) z += std::isinf(s[size_t(j)]) ? 0 : std::exp(s[size_t(j)] - m);
      int64_t best = -1;
      for (int64_t j = 0; j <= t; ++j) {
        if (std::isinf(s[size_t(j)])) continue;
        P[size_t(h)][size_t(j)] = std::exp(s[size_t(j)] - m) / z;
        const double pj = P[size_t(h)][size_t(j)];
        ent[size_t(h)] -= pj > 0 ? pj * std::log(pj) : 0;
        if (j >= L.span_begin && j < L.span_end) mass[size_t(h)] += pj;
        if (best < 0 || pj > P[size_t(h)][size_t(best)]) best = j;
      }
      r.entropy[size_t(h * p.T + t)] = float(ent[size_t(h)]);
      r.mass[size_t(h * p.T + t)] = float(mass[size_t(h)]);
      r.top1[size_t(h * p.T + t)] = int32_t(best);
    }
    // Head selection on the unmanipulated entropies.
    std::vector<int> order(static_cast<size_t>(H));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return L.rank == HeadRank::EntropyHigh ? ent[size_t(a)] > ent[size_t(b)] : ent[size_t(a)] < ent[size_t(b)];
    });
    const int k = L.keep_k < 0 ? H : std::min(L.keep_k, H);
    std::vector<uint8_t> keep(size_t(H), 0);
    for (int i = 0; i < k; ++i) keep[size_t(order[size_t(i)])] = 1;
    double mean_mass = 0;
    for (int h = 0; h < H; ++h) mean_mass += mass[size_t(h)] / H;
    for (int h = 0; h < H; ++h) {
      r.kept[size_t(h * p.T + t)] = keep[size_t(h)];
      if (!keep[size_t(h)]) continue;
      const int g = h / group;
      int64_t visible_needle = 0;
      for (int64_t j = L.span_begin; j < L.span_end; ++j)
        if (j <= t && (p.window == 0 || j > t - p.window)) ++visible_needle;
      for (int64_t j = 0; j <= t; ++j) {
        const bool in = j >= L.span_begin && j < L.span_end;
        const bool visible = p.window == 0 || j > t - p.window;
        double w = P[size_t(h)][size_t(j)];
        switch (L.manipulation) {
          case Manipulation::Keep: break;
          case Manipulation::Omit: w = in ? 0 : w; break;
          case Manipulation::Only: w = in ? w : 0; break;
          case Manipulation::Binary:
            w = in && visible ? (L.binary_layer_mean ? mean_mass : mass[size_t(h)]) / double(visible_needle) : 0;
            break;
          case Manipulation::Null: w = 0; break;
        }
        for (int x = 0; x < D; ++x)
          r.out[size_t((t * H + h) * D + x)] += float(w * p.v[size_t((j * p.kv_heads + g) * D + x)]);
      }
    }
  }
  return r;
}

void expect_close(const std::vector<float>& a, const std::vector<float>& b, double tol, const char* what) {
  ASSERT_EQ(a.size(), b.size());
  double err = 0;
  for (size_t i = 0; i < a.size(); ++i) err = std::max(err, double(std::fabs(a[i] - b[i])));
  EXPECT_LE(err, tol) << what;
}

struct Case {
  int heads, kv, D;
  int64_t window, T;
  std::vector<int64_t> cuts;
};

class AttentionLensTest : public ::testing::TestWithParam<Case> {};

TEST_P(AttentionLensTest, MatchesBruteForceForEveryManipulationAndSelection) {
  const Case c = GetParam();
  const Problem p = make_problem(c.heads, c.kv, c.D, c.window, c.T, 11);
  for (Manipulation m : {Manipulation::Keep, Manipulation::Omit, Manipulation::Only, Manipulation::Binary,
                         Manipulation::Null}) {
    for (int k : {-1, 0, 1, 2, c.heads}) {
      for (HeadRank rank : {HeadRank::EntropyLow, HeadRank::EntropyHigh}) {
        for (bool layer_mean : {false, true}) {
          if (layer_mean && m != Manipulation::Binary) continue;
          SCOPED_TRACE(testing::Message() << "manipulation " << int(m) << " k " << k << " rank " << int(rank));
          AttentionLens L;
          L.keep_k = k;
          L.rank = rank;
          L.manipulation = m;
          L.span_begin = 10;
          L.span_end = 18;
          L.binary_layer_mean = layer_mean;
          const Recorded got = run_kernel(p, c.cuts, L);
          const Recorded ref = run_reference(p, L);
          expect_close(got.out, ref.out, 2e-5, "head outputs");
          expect_close(got.entropy, ref.entropy, 2e-5, "entropy");
          expect_close(got.mass, ref.mass, 2e-6, "needle mass");
          EXPECT_EQ(got.top1, ref.top1);
          EXPECT_EQ(got.kept, ref.kept);
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionLensTest,
    ::testing::Values(Case{4, 1, 8, 16, 50, {20, 21, 37}},   // MQA, window crossed, ring reused
                      Case{4, 2, 5, 7, 40, {1, 2, 3, 30}},   // GQA, odd head_dim, tiny window
                      Case{6, 3, 16, 0, 45, {17, 18}},       // global attention
                      Case{3, 3, 4, 64, 30, {}}));           // window longer than the sequence

TEST(AttentionLens, OmitPlusOnlyEqualsKeep) {
  const Problem p = make_problem(4, 2, 8, 12, 40, 5);
  AttentionLens L;
  L.span_begin = 5;
  L.span_end = 30;
  L.manipulation = Manipulation::Omit;
  const Recorded omit = run_kernel(p, {13, 14}, L);
  L.manipulation = Manipulation::Only;
  const Recorded only = run_kernel(p, {13, 14}, L);
  L.manipulation = Manipulation::Keep;
  const Recorded keep = run_kernel(p, {13, 14}, L);
  std::vector<float> sum(keep.out.size());
  for (size_t i = 0; i < sum.size(); ++i) sum[i] = omit.out[i] + only.out[i];
  expect_close(sum, keep.out, 1e-5, "omit + only vs keep");
}

TEST(AttentionLens, NullEqualsKeepingNoHead) {
  const Problem p = make_problem(4, 1, 8, 16, 30, 6);
  AttentionLens L;
  L.manipulation = Manipulation::Null;
  const Recorded null = run_kernel(p, {9}, L);
  AttentionLens K;
  K.keep_k = 0;
  const Recorded none = run_kernel(p, {9}, K);
  EXPECT_EQ(null.out, none.out);
  for (float x : none.out) ASSERT_EQ(x, 0.0f);
}

TEST(AttentionLens, RejectsMismatchedCache) {
  const Problem p = make_problem(2, 1, 4, 8, 10, 1);
  KVCache cache;
  cache.capacity = 8;
  cache.k = Tensor::zeros(DType::F32, {8, 4});
  cache.v = Tensor::zeros(DType::F32, {8, 4});
  Tensor q = Tensor::zeros(DType::F32, {2, 8}), k = Tensor::zeros(DType::F32, {2, 4}), v = Tensor::zeros(DType::F32, {2, 4});
  Tensor out = Tensor::zeros(DType::F32, {2, 8});
  AttentionSpec spec{2, 1, 4, 8, 0.5f};
  EXPECT_THROW(cpu::attention(out, q, k, v, cache, spec, 3, nullptr), Error);  // cache holds 0 positions, not 3
  Tensor bad = Tensor::zeros(DType::F32, {2, 5});
  EXPECT_THROW(cpu::attention(out, bad, k, v, cache, spec, 0, nullptr), Error);
}

}  // namespace
}  // namespace hl
