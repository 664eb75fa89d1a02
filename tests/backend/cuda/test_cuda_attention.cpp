// The fused CUDA attention against the CPU attention over a sequence of calls (a prefill, single-token
// decode steps, short chunks) that wraps the sliding-window ring buffer, for MQA, GQA and MHA shapes (head
// dims below, at and above a warp's width), with every lens setting: recordings (entropy, needle mass,
// top-1, kept heads), head selection (entropy-low/high, random, fixed, k = 0) and every manipulation. The
// runs past 300 positions cover the split-key path that decode steps take once they see enough keys; calls of
// 16 queries or more take the matrix-product path (one of 1,100 queries spans two blocks of it), fewer the
// per-(query, head) kernels.
// Bounds: outputs 2e-5 (|want| + max |v|); entropy 2e-5 (1 + H) nats; needle mass 1e-5; top-1 and kept heads
// and the KV cache exact.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "backend/backend_test_util.hpp"
#include "backend/cuda/cuda_test_util.hpp"

namespace hl {
namespace {

struct Shape4 {
  int H, KVH, D;
  int64_t window, capacity;
};

struct LensCase {
  std::string name;
  int keep_k = -1;
  HeadRank rank = HeadRank::EntropyLow;
  Manipulation manip = Manipulation::Keep;
  bool record = false, layer_mean = false, span = false;
};

struct Records {
  std::vector<float> entropy, mass;
  std::vector<int32_t> top1;
  std::vector<uint8_t> kept;
  explicit Records(size_t n) : entropy(n, -1.0f), mass(n, -1.0f), top1(n, -7), kept(n, 9) {}
};

AttentionLens make_lens(const LensCase& lc, Records& r, int64_t stride, int64_t first, const uint8_t* mask) {
  AttentionLens L;
  L.layer = 2;
  L.stride = stride;
  if (lc.record) {
    L.entropy = r.entropy.data() + first;
    L.span_mass = lc.span ? r.mass.data() + first : nullptr;
    L.top1 = r.top1.data() + first;
    L.kept = r.kept.data() + first;
  }
  L.keep_k = lc.keep_k;
  L.rank = lc.rank;
  L.seed = 7;
  L.fixed_mask = mask;
  L.manipulation = lc.manip;
  if (lc.span) {
    L.span_begin = 5;
    L.span_end = 12;
  }
  L.binary_layer_mean = lc.layer_mean;
  return L;
}

void run_case(Backend& gpu, const Shape4& s, const LensCase& lc, bool use_lens) {
  auto cpu = make_cpu_backend();
  std::mt19937 rng(uint32_t(s.H * 131 + s.D + s.window));
  // A longer run (past 300 positions, so that decode steps see enough keys to be split over several blocks)
  // where the cache can hold it: a sliding window, or a full-attention cache of that capacity.
  const bool long_run = s.window > 0 || s.capacity >= 320;
  // With a window, one call of 1,100 queries: more than one block of the matrix-product path.
  std::vector<int64_t> steps = long_run ? std::vector<int64_t>{40, 1, 1, 7, 1, 20, 230, 1, 7, 1}
                                        : std::vector<int64_t>{40, 1, 1, 7, 1, 20};
  if (s.window > 0) steps.insert(steps.end(), {1100, 1, 15, 16});
  int64_t total = 0;
  for (int64_t T : steps) total += T;
  const int64_t qw = int64_t(s.H) * s.D, kw = int64_t(s.KVH) * s.D;
  AttentionSpec spec{s.H, s.KVH, s.D, s.window, 1.0f / std::sqrt(float(s.D))};
  KVCache cc{Tensor::zeros(DType::F32, {s.capacity, kw}), Tensor::zeros(DType::F32, {s.capacity, kw}), s.capacity, 0};
  KVCache gc{gpu.zeros(DType::F32, {s.capacity, kw}), gpu.zeros(DType::F32, {s.capacity, kw}), s.capacity, 0};
  Records rc(size_t(s.H * total)), rg(size_t(s.H * total));
  std::vector<uint8_t> mask(size_t(s.H));
  for (int h = 0; h < s.H; ++h) mask[size_t(h)] = h % 2 == 0;
  const std::string base = lc.name + " H" + std::to_string(s.H) + "/" + std::to_string(s.KVH) + " D" +
                           std::to_string(s.D) + " window " + std::to_string(s.window);
  int64_t first = 0;
  for (int64_t T : steps) {
    Tensor q = test::random_f32({T, qw}, rng, -2, 2);
    Tensor k = test::random_f32({T, kw}, rng, -1, 1);
    Tensor v = test::random_f32({T, kw}, rng, -1, 1);
    Tensor want = Tensor::zeros(DType::F32, {T, qw});
    AttentionLens lcpu = make_lens(lc, rc, total, first, mask.data());
    AttentionLens lgpu = make_lens(lc, rg, total, first, mask.data());
    cpu->attention(want, q, k, v, cc, spec, first, use_lens ? &lcpu : nullptr);
    Tensor got = gpu.zeros(DType::F32, {T, qw});
    gpu.attention(got, test::on_device(gpu, q), test::on_device(gpu, k), test::on_device(gpu, v), gc, spec, first,
                  use_lens ? &lgpu : nullptr);
    EXPECT_EQ(gc.length, cc.length);
    const float* wv = want.data<float>();
    const std::string name = base + " call at " + std::to_string(first) + "+" + std::to_string(T);
    EXPECT_TRUE(test::gpu_close(test::on_host(gpu, got), want, [&](int64_t i) { return 2e-5 * (std::fabs(wv[i]) + 1); },
                                "attention " + name));
    first += T;
  }
  gpu.finish();  // the recordings reach the host at the next synchronisation
  EXPECT_TRUE(test::bitwise_equal(test::on_host(gpu, gc.k), cc.k, base + " cache keys"));
  EXPECT_TRUE(test::bitwise_equal(test::on_host(gpu, gc.v), cc.v, base + " cache values"));
  if (!use_lens || !lc.record) return;
  double ent = 0, mass = 0;
  int64_t top1_diff = 0, kept_diff = 0;
  for (size_t i = 0; i < rc.entropy.size(); ++i) {
    ent = std::max(ent, double(std::fabs(rc.entropy[i] - rg.entropy[i])));
    mass = std::max(mass, double(std::fabs(rc.mass[i] - rg.mass[i])));
    top1_diff += rc.top1[i] != rg.top1[i];
    kept_diff += rc.kept[i] != rg.kept[i];
  }
  std::printf("[ cuda op  ] attention lens %s: entropy max abs error %.3g nats, needle mass %.3g, top-1 differences "
              "%lld, kept differences %lld\n",
              base.c_str(), ent, mass, (long long)top1_diff, (long long)kept_diff);
  EXPECT_LE(ent, 2e-5 * (1 + s.H)) << base;
  EXPECT_LE(mass, 1e-5) << base;
  EXPECT_EQ(top1_diff, 0) << base;
  EXPECT_EQ(kept_diff, 0) << base;
}

const std::vector<Shape4>& shapes() {
  static const std::vector<Shape4> s = {
      {4, 1, 64, 16, 16}, {8, 2, 128, 0, 128}, {3, 3, 40, 0, 96}, {10, 1, 256, 32, 32}, {2, 1, 16, 5, 8},
      {10, 1, 256, 0, 320}, {4, 2, 64, 150, 150}};
  return s;
}

TEST(CudaAttention, PlainMatchesCpu) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  for (const Shape4& s : shapes()) run_case(*be, s, LensCase{"no lens"}, false);
}

TEST(CudaAttention, LensMatchesCpu) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  std::vector<LensCase> cases;
  cases.push_back({"record, keep", -1, HeadRank::EntropyLow, Manipulation::Keep, true, false, true});
  cases.push_back({"entropy-low k=2, omit", 2, HeadRank::EntropyLow, Manipulation::Omit, true, false, true});
  cases.push_back({"entropy-high k=1, only", 1, HeadRank::EntropyHigh, Manipulation::Only, true, false, true});
  cases.push_back({"random k=3, binary", 3, HeadRank::Random, Manipulation::Binary, true, false, true});
  cases.push_back({"binary layer mean", -1, HeadRank::EntropyLow, Manipulation::Binary, true, true, true});
  cases.push_back({"fixed, keep", 0, HeadRank::Fixed, Manipulation::Keep, true, false, false});
  cases.push_back({"k=0", 0, HeadRank::EntropyLow, Manipulation::Keep, true, false, false});
  cases.push_back({"null", -1, HeadRank::EntropyLow, Manipulation::Null, true, false, false});
  cases.push_back({"entropy-low k=1, record without span", 1, HeadRank::EntropyLow, Manipulation::Keep, true, false, false});
  for (const Shape4& s : shapes())
    for (const LensCase& lc : cases) run_case(*be, s, lc, true);
}

}  // namespace
}  // namespace hl
