// linear and block_diag_linear against the reference: every weight dtype, every kernel path (AVX-512 GEMV,
// AVX-512 GEMM, portable GEMV, portable GEMM + OpenBLAS), sizes that cross the 16-lane vectors, the 12 x 32
// micro-tiles, the 512-input and 128-output packing blocks, the 8-token GEMV groups and the thread splits.
//
// Error bound per output (rigorous for any summation order): |y - y_ref| <= (K + 4) * 2^-24 * S, where
// S = sum_k |x_k w_k| + |b| (the reference is exact up to its final rounding to fp32).
#include <gtest/gtest.h>

#include <cmath>

#include "backend_test_util.hpp"
#include "hybridlens/backend/cpu/isa.hpp"
#include "hybridlens/backend/cpu/linear_kernels.hpp"
#include "hybridlens/backend/cpu/ops.hpp"
#include "hybridlens/backend/cpu/weights.hpp"
#include "hybridlens/backend/reference/reference.hpp"
#include "hybridlens/core/parallel.hpp"

namespace hl {
namespace {

using test::kU;

// S[t, n] = sum_k |x[t, k] w[n, k]| + |b[n]|
std::vector<double> abs_sums(const Tensor& x, const Tensor& w, const Tensor& b) {
  const int64_t T = x.dim(0), K = x.dim(1), N = w.dim(0);
  std::vector<double> s(static_cast<size_t>(T * N));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n) {
      double a = b.defined() ? std::fabs(ref::weight_value(b, n)) : 0.0;
      for (int64_t k = 0; k < K; ++k) a += std::fabs(double(x.data<float>()[t * K + k]) * ref::weight_value(w, n * K + k));
      s[size_t(t * N + n)] = a;
    }
  return s;
}

enum class Path { Dispatch, Gemv, Gemm, PortableDispatch, PortableGemv, PortableGemm };

const char* path_name(Path p) {
  switch (p) {
    case Path::Dispatch: return "dispatch";
    case Path::Gemv: return "avx512-gemv";
    case Path::Gemm: return "avx512-gemm";
    case Path::PortableDispatch: return "portable-dispatch";
    case Path::PortableGemv: return "portable-gemv";
    case Path::PortableGemm: return "portable-gemm";
  }
  return "?";
}

bool have_avx512() {
  cpu::reset_isa();
  return cpu::active_isa() == cpu::Isa::Avx512;
}

void run_path(Path p, Tensor& out, const Tensor& x, const Tensor& w, const Tensor& b) {
  cpu::LinearArgs a;
  a.x = x.data<float>();
  a.w = w.raw();
  a.wdt = w.dtype();
  std::vector<float> b_f32;
  a.bias = b.defined() ? cpu::weights_as_f32(b, b_f32) : nullptr;
  a.out = out.data<float>();
  a.T = x.dim(0);
  a.K = x.dim(1);
  a.N = w.dim(0);
  a.ldx = a.K;
  a.ldo = a.N;
  switch (p) {
    case Path::Dispatch: cpu::linear(out, x, w, b); break;
    case Path::Gemv: cpu::linear_gemv_avx512(a); break;
    case Path::Gemm: cpu::linear_gemm_avx512(a); break;
    case Path::PortableDispatch: {
      cpu::ScopedIsa portable(cpu::Isa::Portable);
      cpu::linear(out, x, w, b);
      break;
    }
    case Path::PortableGemv: {
      cpu::ScopedIsa portable(cpu::Isa::Portable);
      cpu::linear_gemv_portable(a);
      break;
    }
    case Path::PortableGemm: {
      cpu::ScopedIsa portable(cpu::Isa::Portable);
      cpu::linear_gemm_portable(a);
      break;
    }
  }
}

void check_linear(int64_t T, int64_t K, int64_t N, DType dt, bool with_bias, const std::vector<Path>& paths,
                  uint32_t seed) {
  std::mt19937 rng(seed);
  Tensor x = test::random_f32({T, K}, rng);
  Tensor w = test::random_weight(dt, {N, K}, rng);
  Tensor b = with_bias ? test::random_weight(dt, {N}, rng) : Tensor();  // biases are stored like weights
  Tensor want = Tensor::zeros(DType::F32, {T, N});
  ref::linear(want, x, w, b);
  const std::vector<double> s = abs_sums(x, w, b);
  for (Path p : paths) {
    Tensor got = Tensor::zeros(DType::F32, {T, N});
    for (int64_t i = 0; i < got.numel(); ++i) got.data<float>()[i] = std::nanf("");  // every output must be written
    run_path(p, got, x, w, b);
    EXPECT_TRUE(test::close_within(got, want, [&](int64_t i) { return double(K + 4) * kU * s[size_t(i)]; },
                                   std::string(path_name(p)) + " " + test::case_name("linear", dt, {T, K, N}) +
                                       (with_bias ? " bias" : "")));
  }
}

std::vector<Path> all_paths() {
  if (have_avx512())
    return {Path::Dispatch, Path::Gemv, Path::Gemm, Path::PortableDispatch, Path::PortableGemv, Path::PortableGemm};
  return {Path::Dispatch, Path::PortableGemv, Path::PortableGemm};
}

TEST(BackendLinear, OddSizesAllDtypesAllPaths) {
  uint32_t seed = 1;
  for (DType dt : test::weight_dtypes())
    for (int64_t T : {1, 3, 8, 9, 13})
      for (int64_t K : {1, 15, 17, 33})
        for (int64_t N : {1, 17, 33, 257}) check_linear(T, K, N, dt, (T + K + N) % 2 == 0, all_paths(), seed++);
}

TEST(BackendLinear, CrossesPackingBlocksAndTokenGroups) {
  // K 513 crosses the 512-input block; N 161 and 300 cross the 128-output block and the 32-wide panels;
  // T 25 and 37 leave partial 12-row tiles, 17 and 23 partial 8-token GEMV groups.
  uint32_t seed = 100;
  for (DType dt : test::weight_dtypes()) {
    check_linear(25, 513, 161, dt, true, all_paths(), seed++);
    check_linear(37, 520, 300, dt, false, all_paths(), seed++);
    check_linear(17, 129, 70, dt, true, all_paths(), seed++);
    check_linear(2, 1031, 65, dt, true, all_paths(), seed++);
  }
}

TEST(BackendLinear, ManyRowsCrossTheActivationChunk) {
  // More than 960 rows: the GEMM packs the activations in chunks of 960.
  check_linear(975, 40, 35, DType::BF16, true, all_paths(), 7);
}

TEST(BackendLinear, ThreadCountsGiveCorrectResults) {
  const int saved = num_threads();
  for (int threads : {1, 3}) {
    set_num_threads(threads);
    check_linear(5, 70, 133, DType::BF16, true, all_paths(), 11);
    check_linear(30, 70, 133, DType::F16, true, all_paths(), 12);
  }
  set_num_threads(saved);
}

TEST(BackendLinear, EmptyDimensions) {
  std::mt19937 rng(3);
  // K = 0: out = bias
  Tensor x = Tensor::zeros(DType::F32, {3, 0});
  Tensor w = Tensor::zeros(DType::BF16, {4, 0});
  Tensor b = test::random_f32({4}, rng);
  Tensor out = test::random_f32({3, 4}, rng);
  cpu::linear(out, x, w, b);
  for (int64_t t = 0; t < 3; ++t)
    for (int64_t n = 0; n < 4; ++n) EXPECT_EQ(out.data<float>()[t * 4 + n], b.data<float>()[n]);
  // T = 0: nothing to do
  Tensor x0 = Tensor::zeros(DType::F32, {0, 5});
  Tensor w0 = test::random_weight(DType::F32, {4, 5}, rng);
  Tensor out0 = Tensor::zeros(DType::F32, {0, 4});
  EXPECT_NO_THROW(cpu::linear(out0, x0, w0, Tensor()));
}

// block_diag_linear: out[t, h*bw + j] = b[h, j] + sum_i x[t, h*bw + i] w[h, i, j]; same bound with K = bw.
void check_block_diag(int64_t T, int64_t blocks, int64_t bw, DType dt, bool with_bias, uint32_t seed, bool portable) {
  std::mt19937 rng(seed);
  const int64_t C = blocks * bw;
  Tensor x = test::random_f32({T, C}, rng);
  Tensor w = test::random_weight(dt, {blocks, bw, bw}, rng);
  Tensor b = with_bias ? test::random_weight(dt, {blocks, bw}, rng) : Tensor();
  Tensor want = Tensor::zeros(DType::F32, {T, C});
  ref::block_diag_linear(want, x, w, b);
  std::vector<double> s(static_cast<size_t>(T * C));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < blocks; ++h)
      for (int64_t j = 0; j < bw; ++j) {
        double a = b.defined() ? std::fabs(ref::weight_value(b, h * bw + j)) : 0.0;
        for (int64_t i = 0; i < bw; ++i)
          a += std::fabs(double(x.data<float>()[t * C + h * bw + i]) * ref::weight_value(w, (h * bw + i) * bw + j));
        s[size_t(t * C + h * bw + j)] = a;
      }
  Tensor got = Tensor::zeros(DType::F32, {T, C});
  {
    cpu::ScopedIsa isa(portable ? cpu::Isa::Portable : cpu::active_isa());
    cpu::block_diag_linear(got, x, w, b);
  }
  EXPECT_TRUE(test::close_within(got, want, [&](int64_t i) { return double(bw + 4) * kU * s[size_t(i)]; },
                                 std::string(portable ? "portable " : "") +
                                     test::case_name("block_diag_linear", dt, {T, blocks, bw})));
}

TEST(BackendBlockDiagLinear, MatchesReference) {
  uint32_t seed = 200;
  for (bool portable : {false, true})
    for (DType dt : test::weight_dtypes())
      for (int64_t T : {1, 3, 8, 9, 40})
        for (auto [blocks, bw] : {std::pair<int64_t, int64_t>{1, 17}, {3, 16}, {5, 33}, {2, 70}})
          check_block_diag(T, blocks, bw, dt, (T + bw) % 2 == 1, seed++, portable);
}

// The gated MLP operation (by default gated_linear, then linear) against the reference steps: down(act(gate x
// + b_g) * (up x + b_u)) + b_d. Bound: 1e-5 (1 + |want|), far below what a swapped weight or a missing bias
// would change.
TEST(BackendGatedMlp, MatchesReferenceSteps) {
  auto be = make_cpu_backend();
  std::mt19937 rng(23);
  for (DType dt : test::weight_dtypes())
    for (Activation act : {Activation::GeluTanh, Activation::Silu}) {
      const int64_t T = 5, K = 24, N = 40;
      const Tensor x = test::random_f32({T, K}, rng);
      const Tensor wg = test::random_weight(dt, {N, K}, rng), wu = test::random_weight(dt, {N, K}, rng);
      const Tensor wd = test::random_weight(dt, {K, N}, rng);
      const Tensor bg = test::random_weight(dt, {N}, rng), bu = test::random_weight(dt, {N}, rng);
      const Tensor bd = test::random_weight(dt, {K}, rng);
      Tensor gate = Tensor::zeros(DType::F32, {T, N}), up = Tensor::zeros(DType::F32, {T, N});
      Tensor want = Tensor::zeros(DType::F32, {T, K}), got = Tensor::zeros(DType::F32, {T, K});
      ref::linear(gate, x, wg, bg);
      ref::linear(up, x, wu, bu);
      ref::activation_mul(gate, gate, up, act);
      ref::linear(want, gate, wd, bd);
      be->gated_mlp(got, x, wg, bg, wu, bu, wd, bd, act);
      for (int64_t i = 0; i < T * K; ++i) {
        const double w = want.data<float>()[i];
        ASSERT_NEAR(got.data<float>()[i], w, 1e-5 * (1.0 + std::fabs(w))) << dtype_name(dt) << " element " << i;
      }
    }
  Tensor x = Tensor::zeros(DType::F32, {2, 3, 4}), w = Tensor::zeros(DType::F32, {4, 4});
  Tensor out = Tensor::zeros(DType::F32, {2, 4});
  EXPECT_THROW(be->gated_mlp(out, x, w, Tensor(), w, Tensor(), w, Tensor(), Activation::Silu), Error);
}

}  // namespace
}  // namespace hl
