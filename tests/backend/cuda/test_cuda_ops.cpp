// Every elementwise, row, linear and sequence operation of the CUDA backend against the CPU backend on
// random inputs, at sizes that cross the kernels' boundaries (the 8-row decode kernels vs cuBLAS, 8-wide
// vector loads, 16-lane state groups, warp and block sizes). Bounds, with u = 2^-24 and S the sum of
// absolute products of an output:
//   embed, gather_rows, conv1d state, rotary-untouched dims: exact
//   rms_norm, soft_cap: 8u |want|; activations 8u |want| + 4u |x| (|b|) (libm calls differ by an ulp; gelu's
//   1 + tanh cancels); add_inplace: exact
//   linear/block_diag fp32 paths: (2K + 8) u S; bf16 tensor-core path: (2^-8 + (2K + 8) u) S (activations
//   rounded to bf16)
//   conv1d: (width + 3) u S; rotary: 4u (|x_i| + |x_pair|)
//   rglru_scan: 1e-5 (|want| + 1) (libm exp/expm1/sqrt differ by an ulp, carried through the recurrence)
//   selective_scan: 1e-5 (|want| + 1) sqrt(N), scatter_add_rows: 4u (|y| + sum |w src|)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>

#include "backend/backend_test_util.hpp"
#include "backend/cuda/cuda_test_util.hpp"
#include "hybridlens/backend/reference/reference.hpp"
#include "hybridlens/core/argmax.hpp"

namespace hl {
namespace {

using test::kU;
using test::on_device;
using test::on_host;

Tensor f32(Shape s) { return Tensor::zeros(DType::F32, std::move(s)); }

TEST(CudaOps, MemoryRoundTrip) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  std::mt19937 rng(1);
  Tensor h = test::random_f32({37, 5}, rng);
  Tensor d = on_device(*be, h);
  EXPECT_EQ(d.device().kind, DeviceKind::CUDA);
  Tensor d2 = be->zeros(DType::F32, {37, 5});
  EXPECT_TRUE(test::bitwise_equal(on_host(*be, d2), f32({37, 5}), "zeros"));
  be->copy(d2, d);
  EXPECT_TRUE(test::bitwise_equal(on_host(*be, d2), h, "copy"));
  Tensor rows = d.rows(10, 20);
  EXPECT_TRUE(test::bitwise_equal(on_host(*be, rows), h.rows(10, 20), "row view"));
}

TEST(CudaOps, RejectsHostTensorsAndBadShapes) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  Tensor host = f32({2, 3});
  Tensor dev = be->zeros(DType::F32, {2, 3});
  EXPECT_THROW(be->add_inplace(dev, host), Error);
  Tensor other = be->zeros(DType::F32, {3, 2});
  EXPECT_THROW(be->add_inplace(dev, other), Error);
  Tensor w = be->zeros(DType::BF16, {3, 5});
  Tensor out = be->zeros(DType::F32, {2, 3});
  EXPECT_THROW(be->linear(out, dev, w, Tensor()), Error);
  try {
    be->linear(out, dev, w, Tensor());
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("linear", 0), 0u) << e.what();
  }
}

// Random weights made on the GPU are the host's bits (read back through embed, an exact widening).
TEST(CudaOps, FillUniformEqualsTheHostBitForBit) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  auto cpu = make_cpu_backend();
  // -0.3..0.7 makes (hi - lo) * u exact; +-sqrt(3 / 2560) (a linear layer's range) does not, so only it
  // shows a fused multiply-add, which rounds once where the host rounds twice.
  for (auto [lo, hi] : {std::pair<float, float>{-0.3f, 0.7f}, {-0.034232f, 0.034232f}})
  for (DType dt : test::weight_dtypes()) {
    const int64_t R = 777, C = 129;  // not a multiple of the block size
    Tensor host = cpu->zeros(dt, {R, C});
    Tensor dev = be->zeros(dt, {R, C});
    cpu->fill_uniform(host, lo, hi, 0x1234abcdull);
    be->fill_uniform(dev, lo, hi, 0x1234abcdull);
    std::vector<int32_t> rows(R);
    for (int64_t r = 0; r < R; ++r) rows[size_t(r)] = int32_t(r);
    Tensor want = f32({R, C});
    cpu->embed(want, host, rows, 1.0f);
    Tensor got = be->zeros(DType::F32, {R, C});
    be->embed(got, dev, rows, 1.0f);
    EXPECT_TRUE(test::bitwise_equal(on_host(*be, got), want, test::case_name("fill_uniform", dt, {R, C})));
  }
}

TEST(CudaOps, Embed) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  auto cpu = make_cpu_backend();
  std::mt19937 rng(2);
  for (DType dt : test::weight_dtypes())
    for (float scale : {1.0f, 50.5f}) {
      Tensor table = test::random_weight(dt, {1000, 300}, rng);
      std::vector<int32_t> ids;
      for (int i = 0; i < 37; ++i) ids.push_back(int32_t(rng() % 1000));
      Tensor want = f32({37, 300});
      cpu->embed(want, table, ids, scale);
      Tensor got = be->zeros(DType::F32, {37, 300});
      be->embed(got, on_device(*be, table), ids, scale);
      EXPECT_TRUE(test::bitwise_equal(on_host(*be, got), want, test::case_name("embed", dt, {37, 300})));
    }
  Tensor got = be->zeros(DType::F32, {1, 300});
  EXPECT_THROW(be->embed(got, be->zeros(DType::BF16, {1000, 300}), {1000}, 1.0f), Error);
}

TEST(CudaOps, RmsNorm) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  auto cpu = make_cpu_backend();
  std::mt19937 rng(3);
  for (DType dt : test::weight_dtypes())
    for (auto [T, C] : {std::pair<int64_t, int64_t>{1, 2560}, {33, 1000}, {5, 17}, {2, 9000}})
      for (bool one_plus : {false, true}) {
        Tensor x = test::random_f32({T, C}, rng, -3, 3);
        Tensor w = test::random_weight(dt, {C}, rng);
        Tensor want = f32({T, C});
        cpu->rms_norm(want, x, w, 1e-6f, one_plus);
        Tensor dx = on_device(*be, x);
        be->rms_norm(dx, dx, on_device(*be, w), 1e-6f, one_plus);  // in place, as the models call it
        const float* wv = want.data<float>();
        EXPECT_TRUE(test::gpu_close(on_host(*be, dx), want, [&](int64_t i) { return 8 * kU * std::fabs(wv[i]) + 1e-30; },
                                    test::case_name(one_plus ? "rms_norm(1+w)" : "rms_norm", dt, {T, C})));
      }
}

// The fused residual add + norm against the CPU's add_inplace then rms_norm: the sum exactly, the norm
// within rms_norm's bound.
TEST(CudaOps, AddRmsNorm) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  auto cpu = make_cpu_backend();
  std::mt19937 rng(13);
  for (DType dt : test::weight_dtypes())
    for (auto [T, C] : {std::pair<int64_t, int64_t>{1, 2560}, {33, 1000}, {5, 17}, {2, 9000}})
      for (bool one_plus : {false, true}) {
        Tensor x = test::random_f32({T, C}, rng, -3, 3), t = test::random_f32({T, C}, rng, -3, 3);
        Tensor w = test::random_weight(dt, {C}, rng);
        Tensor want_x = test::clone(x), want_h = f32({T, C});
        cpu->add_rms_norm(want_x, t, want_h, w, 1e-6f, one_plus);
        Tensor dx = on_device(*be, x), dh = be->zeros(DType::F32, {T, C});
        be->add_rms_norm(dx, on_device(*be, t), dh, on_device(*be, w), 1e-6f, one_plus);
        const std::string name = test::case_name(one_plus ? "add_rms_norm(1+w)" : "add_rms_norm", dt, {T, C});
        EXPECT_TRUE(test::bitwise_equal(on_host(*be, dx), want_x, name + " sum"));
        const float* wv = want_h.data<float>();
        EXPECT_TRUE(test::gpu_close(on_host(*be, dh), want_h, [&](int64_t i) { return 8 * kU * std::fabs(wv[i]) + 1e-30; },
                                    name));
      }
}

TEST(CudaOps, ElementwiseAndActivations) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  auto cpu = make_cpu_backend();
  std::mt19937 rng(4);
  const int64_t n = 100003;
  Tensor a = test::random_f32({n}, rng, -30, 30), b = test::random_f32({n}, rng, -2, 2);
  for (Activation act : {Activation::GeluTanh, Activation::Silu, Activation::Softplus}) {
    const std::string name = act == Activation::GeluTanh ? "gelu_tanh" : act == Activation::Silu ? "silu" : "softplus";
    Tensor want = f32({n});
    cpu->activation(want, a, act);
    Tensor got = be->zeros(DType::F32, {n});
    be->activation(got, on_device(*be, a), act);
    const float* wv = want.data<float>();
    const float* av = a.data<float>();
    const float* bv = b.data<float>();
    // gelu's 1 + tanh(.) cancels for negative inputs: an ulp of 1 there is 2^-24 |x| absolute.
    auto bound = [&](int64_t i) { return 8 * kU * std::fabs(wv[i]) + 4 * kU * std::fabs(av[i]) + 1e-30; };
    EXPECT_TRUE(test::gpu_close(on_host(*be, got), want, bound, "activation " + name));
    cpu->activation_mul(want, a, b, act);
    Tensor da = on_device(*be, a);
    be->activation_mul(da, da, on_device(*be, b), act);
    EXPECT_TRUE(test::gpu_close(on_host(*be, da), want,
                                [&](int64_t i) { return 8 * kU * std::fabs(wv[i]) + 4 * kU * std::fabs(av[i] * bv[i]) + 1e-30; },
                                "activation_mul " + name));
  }
  Tensor want = test::clone(a);
  cpu->soft_cap(want, 30.0f);
  Tensor got = on_device(*be, a);
  be->soft_cap(got, 30.0f);
  const float* wv = want.data<float>();
  EXPECT_TRUE(test::gpu_close(on_host(*be, got), want, [&](int64_t i) { return 8 * kU * std::fabs(wv[i]) + 1e-30; },
                              "soft_cap"));
  want = test::clone(a);
  cpu->add_inplace(want, b);
  got = on_device(*be, a);
  be->add_inplace(got, on_device(*be, b));
  EXPECT_TRUE(test::bitwise_equal(on_host(*be, got), want, "add_inplace"));
}

// S[t, n] = sum_k |x[t, k] w[n, k]| + |bias[n]|.
Tensor abs_sums(const Tensor& x, const Tensor& w, const Tensor& bias) {
  const int64_t T = x.dim(0), K = x.dim(1), N = w.dim(0);
  Tensor s = f32({T, N});
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n) {
      double a = bias.defined() ? std::fabs(ref::weight_value(bias, n)) : 0.0;
      for (int64_t k = 0; k < K; ++k) a += std::fabs(double(x.data<float>()[t * K + k]) * ref::weight_value(w, n * K + k));
      s.data<float>()[t * N + n] = float(a);
    }
  return s;
}

void check_linear(Backend& be, bool precise, std::mt19937& rng) {
  auto cpu = make_cpu_backend();
  for (DType dt : test::weight_dtypes())
    for (int64_t T : {1, 3, 8, 9, 64, 300})
      // 4104 x 301: K split over 2 warps with a shorter last share, and a last block with a dead column
      for (auto [K, N] : {std::pair<int64_t, int64_t>{7, 5}, {64, 100}, {1000, 513}, {2560, 40}, {4104, 301}}) {
        const bool with_bias = (T + K) % 2 == 1;
        Tensor x = test::random_f32({T, K}, rng);
        Tensor w = test::random_weight(dt, {N, K}, rng);
        Tensor bias = with_bias ? test::random_weight(dt, {N}, rng) : Tensor();
        Tensor want = f32({T, N});
        cpu->linear(want, x, w, bias);
        Tensor got = be.zeros(DType::F32, {T, N});
        be.linear(got, on_device(be, x), on_device(be, w), with_bias ? on_device(be, bias) : Tensor());
        const Tensor S = abs_sums(x, w, bias);
        const bool tensor_cores = dt == DType::BF16 && !precise && T > 8;
        const double rel = (tensor_cores ? 1.0 / 256 : 0.0) + double(2 * K + 8) * kU;
        EXPECT_TRUE(test::gpu_close(on_host(be, got), want, [&](int64_t i) { return rel * S.data<float>()[i] + 1e-30; },
                                    test::case_name(precise ? "linear precise" : "linear", dt, {T, K, N})));
      }
}

TEST(CudaOps, Linear) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  std::mt19937 rng(5);
  check_linear(*be, false, rng);
}

TEST(CudaOps, LinearPrecise) {
  HL_CUDA_BACKEND_OR_SKIP(be, true);
  std::mt19937 rng(6);
  check_linear(*be, true, rng);
}

// Several products of one input in one launch (decode's q/k/v and the recurrent block's two input products)
// against one linear each on the same backend: the same column kernel, so bit for bit.
TEST(CudaOps, LinearPartsEqualOneLinearEach) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  std::mt19937 rng(16);
  for (DType dt : test::weight_dtypes())
    for (int64_t T : {1, 5, 9})
      for (bool with_bias : {false, true}) {
        // K = 4104: each column over 2 warps; 381 columns leave dead warps in the last block
        const int64_t K = T == 5 ? 4104 : 520;
        const std::vector<int64_t> Ns{301, 40, 40};
        Tensor x = on_device(*be, test::random_f32({T, K}, rng));
        std::vector<Tensor> w, b, want, got;
        for (int64_t N : Ns) {
          w.push_back(on_device(*be, test::random_weight(dt, {N, K}, rng)));
          b.push_back(with_bias ? on_device(*be, test::random_weight(dt, {N}, rng)) : Tensor());
          want.push_back(be->zeros(DType::F32, {T, N}));
          got.push_back(be->zeros(DType::F32, {T, N}));
        }
        std::vector<Backend::LinearPart> pw, pg;
        for (size_t i = 0; i < Ns.size(); ++i) {
          pw.push_back({&want[i], &w[i], &b[i]});
          pg.push_back({&got[i], &w[i], &b[i]});
        }
        be->Backend::linear_parts(x, pw);
        be->linear_parts(x, pg);
        for (size_t i = 0; i < Ns.size(); ++i)
          EXPECT_TRUE(test::bitwise_equal(on_host(*be, got[i]), on_host(*be, want[i]),
                                          test::case_name("linear_parts part " + std::to_string(i), dt, {T, K, Ns[i]})));
      }
}

// The fused few-row gated product against the same backend's separate products and activation_mul
// (Backend::gated_linear, what the CPU and more rows run): the fused kernel sums in the GEMV's order, so the
// difference is rounding in the activation at most; more than 8 rows take the separate path itself.
TEST(CudaOps, GatedLinearEqualsItsParts) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  std::mt19937 rng(15);
  for (DType dt : test::weight_dtypes())
    for (int64_t T : {1, 3, 8, 9})
      for (auto [K, N] : {std::pair<int64_t, int64_t>{7, 5}, {2560, 300}})
        for (Activation act : {Activation::GeluTanh, Activation::Silu}) {
          const bool with_bias = (T + K) % 2 == 1;
          Tensor x = on_device(*be, test::random_f32({T, K}, rng));
          Tensor wg = on_device(*be, test::random_weight(dt, {N, K}, rng));
          Tensor wu = on_device(*be, test::random_weight(dt, {N, K}, rng));
          Tensor bg = with_bias ? on_device(*be, test::random_weight(dt, {N}, rng)) : Tensor();
          Tensor bu = with_bias ? on_device(*be, test::random_weight(dt, {N}, rng)) : Tensor();
          Tensor want = be->zeros(DType::F32, {T, N}), got = be->zeros(DType::F32, {T, N});
          be->Backend::gated_linear(want, x, wg, bg, wu, bu, act);
          be->gated_linear(got, x, wg, bg, wu, bu, act);
          const Tensor w = on_host(*be, want);
          const float* wv = w.data<float>();
          EXPECT_TRUE(test::gpu_close(on_host(*be, got), w, [&](int64_t i) { return 1e-6 * (std::fabs(wv[i]) + 1); },
                                      test::case_name(act == Activation::Silu ? "gated_linear silu" : "gated_linear gelu",
                                                      dt, {T, K, N})));
        }
}

// The gated MLP in one operation against its two steps (gated_linear, then linear) on the same device: bit for
// bit, since the prefill path rounds act(gate) * up to bf16 exactly as the down product's own rounding does
// (T = 9 and 100 take it with BF16 weights; the rest are the steps themselves). K = 7 and N = 5 are odd sizes.
TEST(CudaOps, GatedMlpEqualsItsSteps) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  std::mt19937 rng(17);
  for (DType dt : test::weight_dtypes())
    for (int64_t T : {1, 8, 9, 100})
      for (auto [K, N] : {std::pair<int64_t, int64_t>{7, 5}, {2560, 300}, {264, 1000}})
        for (Activation act : {Activation::GeluTanh, Activation::Silu}) {
          const bool with_bias = (T + K) % 2 == 1;
          Tensor x = on_device(*be, test::random_f32({T, K}, rng));
          Tensor wg = on_device(*be, test::random_weight(dt, {N, K}, rng));
          Tensor wu = on_device(*be, test::random_weight(dt, {N, K}, rng));
          Tensor wd = on_device(*be, test::random_weight(dt, {K, N}, rng));
          Tensor bg = with_bias ? on_device(*be, test::random_weight(dt, {N}, rng)) : Tensor();
          Tensor bu = with_bias ? on_device(*be, test::random_weight(dt, {N}, rng)) : Tensor();
          Tensor bd = with_bias ? on_device(*be, test::random_weight(dt, {K}, rng)) : Tensor();
          Tensor want = be->zeros(DType::F32, {T, K}), got = be->zeros(DType::F32, {T, K});
          be->Backend::gated_mlp(want, x, wg, bg, wu, bu, wd, bd, act);
          be->gated_mlp(got, x, wg, bg, wu, bu, wd, bd, act);
          EXPECT_TRUE(test::bitwise_equal(on_host(*be, got), on_host(*be, want),
                                          test::case_name(act == Activation::Silu ? "gated_mlp silu" : "gated_mlp gelu",
                                                          dt, {T, K, N})));
        }
  Tensor x = be->zeros(DType::F32, {9, 8}), w = be->zeros(DType::BF16, {4, 8}), bad = be->zeros(DType::BF16, {8, 5});
  Tensor out = be->zeros(DType::F32, {9, 8});
  EXPECT_THROW(be->gated_mlp(out, x, w, Tensor(), w, Tensor(), bad, Tensor(), Activation::Silu), Error);
}

// The persistent few-row products (the default) against the warp kernels (HL_CUDA_GEMV=warp): the same
// splits, lane order and reductions, so bit for bit. K = 2560 / 7680 / 14336 / 20000 give 1 / 2 / 4 / 8 warps
// per column (520: one trip, part-filled); N = 301 leaves part of the last wave's slots empty; the parts put a column boundary inside a block.
TEST(CudaOps, PersistentGemvEqualsWarpKernels) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  ::setenv("HL_CUDA_GEMV", "warp", 1);
  std::unique_ptr<Backend> warp = make_cuda_backend(0, false);
  ::unsetenv("HL_CUDA_GEMV");
  std::mt19937 rng(31);
  for (DType dt : test::weight_dtypes())
    for (int64_t T : {1, 3, 8})
      for (int64_t K : {520, 2560, 7680, 14336, 20000}) {
        const std::vector<int64_t> Ns{301, 40, 7};
        const bool with_bias = (T + K / 8) % 2 == 1;
        Tensor x = on_device(*be, test::random_f32({T, K}, rng));
        std::vector<Tensor> w, b, fast, plain;
        for (int64_t N : Ns) {
          w.push_back(on_device(*be, test::random_weight(dt, {N, K}, rng)));
          b.push_back(with_bias ? on_device(*be, test::random_weight(dt, {N}, rng)) : Tensor());
          fast.push_back(be->zeros(DType::F32, {T, N}));
          plain.push_back(be->zeros(DType::F32, {T, N}));
        }
        be->linear(fast[0], x, w[0], b[0]);
        warp->linear(plain[0], x, w[0], b[0]);
        EXPECT_TRUE(test::bitwise_equal(on_host(*be, fast[0]), on_host(*be, plain[0]),
                                        test::case_name("persistent linear", dt, {T, K, Ns[0]})));
        std::vector<Backend::LinearPart> pf, pp;
        for (size_t i = 0; i < Ns.size(); ++i) {
          pf.push_back({&fast[i], &w[i], &b[i]});
          pp.push_back({&plain[i], &w[i], &b[i]});
        }
        be->linear_parts(x, pf);
        warp->linear_parts(x, pp);
        for (size_t i = 0; i < Ns.size(); ++i)
          EXPECT_TRUE(test::bitwise_equal(on_host(*be, fast[i]), on_host(*be, plain[i]),
                                          test::case_name("persistent linear_parts " + std::to_string(i), dt,
                                                          {T, K, Ns[i]})));
        const Tensor up = on_device(*be, test::random_weight(dt, {Ns[0], K}, rng));
        Tensor gf = be->zeros(DType::F32, {T, Ns[0]}), gp = be->zeros(DType::F32, {T, Ns[0]});
        be->gated_linear(gf, x, w[0], b[0], up, b[0], Activation::GeluTanh);
        warp->gated_linear(gp, x, w[0], b[0], up, b[0], Activation::GeluTanh);
        EXPECT_TRUE(test::bitwise_equal(on_host(*be, gf), on_host(*be, gp),
                                        test::case_name("persistent gated_linear", dt, {T, K, Ns[0]})));
      }
}

TEST(CudaOps, BlockDiagLinear) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  auto cpu = make_cpu_backend();
  std::mt19937 rng(7);
  for (DType dt : test::weight_dtypes())
    for (int64_t T : {1, 8, 9, 100})
      // 16-byte-load path: 40 (one 40-column group), 64, 256 (the 2B gates: four groups); the
      // one-lane-per-column fallback: 36 (not a multiple of 8), 72 (not a multiple of the 64-column group)
      for (auto [blocks, bw] : {std::pair<int64_t, int64_t>{3, 40}, {10, 64}, {10, 256}, {2, 36}, {2, 72}}) {
        const int64_t C = blocks * bw;
        Tensor x = test::random_f32({T, C}, rng);
        Tensor w = test::random_weight(dt, {blocks, bw, bw}, rng);
        Tensor b = test::random_weight(dt, {blocks, bw}, rng);
        Tensor want = f32({T, C});
        cpu->block_diag_linear(want, x, w, b);
        Tensor got = be->zeros(DType::F32, {T, C});
        be->block_diag_linear(got, on_device(*be, x), on_device(*be, w), on_device(*be, b));
        Tensor S = f32({T, C});
        for (int64_t t = 0; t < T; ++t)
          for (int64_t c = 0; c < C; ++c) {
            const int64_t h = c / bw, j = c % bw;
            double a = std::fabs(ref::weight_value(b, c));
            for (int64_t i = 0; i < bw; ++i)
              a += std::fabs(x.data<float>()[t * C + h * bw + i] * ref::weight_value(w, (h * bw + i) * bw + j));
            S.data<float>()[t * C + c] = float(a);
          }
        const double rel = (dt == DType::BF16 && T > 8 ? 1.0 / 256 : 0.0) + double(2 * bw + 8) * kU;
        EXPECT_TRUE(test::gpu_close(on_host(*be, got), want, [&](int64_t i) { return rel * S.data<float>()[i] + 1e-30; },
                                    test::case_name("block_diag_linear", dt, {T, blocks, bw})));
      }
}

// Both RG-LRU gates in one launch against one block_diag_linear each (Backend::block_diag_parts): the same
// kernel code per output column, so bit for bit; 36 wide and 9 rows take the separate path itself.
TEST(CudaOps, BlockDiagPartsEqualOneEach) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  std::mt19937 rng(17);
  for (DType dt : test::weight_dtypes())
    for (int64_t T : {1, 8, 9})
      for (auto [blocks, bw] : {std::pair<int64_t, int64_t>{10, 256}, {3, 40}, {2, 36}}) {
        const int64_t C = blocks * bw;
        Tensor x = on_device(*be, test::random_f32({T, C}, rng));
        std::vector<Tensor> w, b, want, got;
        for (int i = 0; i < 2; ++i) {
          w.push_back(on_device(*be, test::random_weight(dt, {blocks, bw, bw}, rng)));
          b.push_back(on_device(*be, test::random_weight(dt, {blocks, bw}, rng)));
          want.push_back(be->zeros(DType::F32, {T, C}));
          got.push_back(be->zeros(DType::F32, {T, C}));
        }
        const Backend::LinearPart pw[] = {{&want[0], &w[0], &b[0]}, {&want[1], &w[1], &b[1]}};
        const Backend::LinearPart pg[] = {{&got[0], &w[0], &b[0]}, {&got[1], &w[1], &b[1]}};
        be->Backend::block_diag_parts(x, pw);
        be->block_diag_parts(x, pg);
        for (int i = 0; i < 2; ++i)
          EXPECT_TRUE(test::bitwise_equal(on_host(*be, got[size_t(i)]), on_host(*be, want[size_t(i)]),
                                          test::case_name("block_diag_parts part " + std::to_string(i), dt,
                                                          {T, blocks, bw})));
      }
}

// The one-launch RG-LRU block of a decode step (gates, recurrence, act(y) * h) against the same operations
// one by one on the GPU (bit for bit: the same arithmetic), over two steps from a reset and from a carried
// state, for 1 and 8 states, the 2B shape's 10 x 256 blocks and a narrow one; and the 9-state step, which
// takes the operations one by one.
TEST(CudaOps, RglruBlockEqualsItsParts) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  std::mt19937 rng(23);
  for (DType dt : test::weight_dtypes())
    for (int64_t B : {1, 8, 9})
      for (auto [blocks, bw] : {std::pair<int64_t, int64_t>{10, 256}, {3, 40}}) {
        const int64_t C = blocks * bw;
        Tensor wx = on_device(*be, test::random_weight(dt, {blocks, bw, bw}, rng));
        Tensor bx = on_device(*be, test::random_weight(dt, {blocks, bw}, rng));
        Tensor wa = on_device(*be, test::random_weight(dt, {blocks, bw, bw}, rng));
        Tensor ba = on_device(*be, test::random_weight(dt, {blocks, bw}, rng));
        Tensor rp = on_device(*be, test::random_weight(dt, {C}, rng));
        std::vector<Tensor> h_want, h_got;
        for (int64_t b = 0; b < B; ++b) {
          const Tensor h0 = test::random_f32({C}, rng);
          h_want.push_back(on_device(*be, h0));
          h_got.push_back(on_device(*be, h0));
        }
        for (int step = 0; step < 2; ++step) {
          Tensor x = on_device(*be, test::random_f32({B, C}, rng, -2, 2));
          Tensor y = on_device(*be, test::random_f32({B, C}, rng, -2, 2));
          Tensor want = be->zeros(DType::F32, {B, C}), got = be->zeros(DType::F32, {B, C});
          std::vector<Backend::LruState> sw, sg;
          for (int64_t b = 0; b < B; ++b) {
            const int64_t pos = step + (b % 2 == 0 ? 0 : 100);  // even states start from a reset
            sw.push_back({&h_want[size_t(b)], pos});
            sg.push_back({&h_got[size_t(b)], pos});
          }
          be->Backend::rglru_block(want, y, x, wx, bx, wa, ba, rp, sw, Activation::GeluTanh);
          be->rglru_block(got, y, x, wx, bx, wa, ba, rp, sg, Activation::GeluTanh);
          const std::string what = test::case_name("rglru_block step " + std::to_string(step), dt, {B, blocks, bw});
          EXPECT_TRUE(test::bitwise_equal(on_host(*be, got), on_host(*be, want), what));
          for (int64_t b = 0; b < B; ++b)
            EXPECT_TRUE(test::bitwise_equal(on_host(*be, h_got[size_t(b)]), on_host(*be, h_want[size_t(b)]),
                                            what + " state " + std::to_string(b)));
        }
      }
}

TEST(CudaOps, Conv1dWithStateOverSplitCalls) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  auto cpu = make_cpu_backend();
  std::mt19937 rng(8);
  for (DType dt : test::weight_dtypes())
    for (int64_t width : {1, 2, 4})
      for (int64_t C : {17, 2560}) {
        const int64_t T = 600;
        Tensor w = test::random_weight(dt, {C, 1, width}, rng);
        Tensor b = test::random_weight(dt, {C}, rng);
        Tensor x = test::random_f32({T, C}, rng, -2, 2);
        Tensor cstate = test::random_f32({width - 1, C}, rng);
        Tensor gstate = on_device(*be, cstate);
        Tensor gw = on_device(*be, w), gb = on_device(*be, b);
        // splits: a prefill, single tokens, a call shorter than the state, a long one
        int64_t t0 = 0;
        for (int64_t n : {1, 2, 300, 1, 1, 5, 290}) {
          const Tensor xs = x.rows(t0, t0 + n);
          Tensor want = f32({n, C});
          Tensor before = test::clone(cstate);
          cpu->conv1d_causal(want, xs, w, b, cstate);
          Tensor got = be->zeros(DType::F32, {n, C});
          be->conv1d_causal(got, on_device(*be, xs), gw, gb, gstate);
          Tensor S = f32({n, C});
          for (int64_t t = 0; t < n; ++t)
            for (int64_t c = 0; c < C; ++c) {
              double a = std::fabs(ref::weight_value(b, c));
              for (int64_t j = 0; j < width; ++j) {
                const int64_t src = t - (width - 1) + j;
                const float in = src >= 0 ? xs.data<float>()[src * C + c] : before.data<float>()[(width - 1 + src) * C + c];
                a += std::fabs(ref::weight_value(w, c * width + j) * in);
              }
              S.data<float>()[t * C + c] = float(a);
            }
          const std::string name = test::case_name("conv1d_causal", dt, {width, C, t0, n});
          EXPECT_TRUE(test::gpu_close(on_host(*be, got), want,
                                      [&](int64_t i) { return double(width + 3) * kU * S.data<float>()[i] + 1e-30; }, name));
          if (width > 1) {
            EXPECT_TRUE(test::bitwise_equal(on_host(*be, gstate), cstate, name + " state"));
          }
          t0 += n;
        }
      }
}

TEST(CudaOps, RgLruScan) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  auto cpu = make_cpu_backend();
  std::mt19937 rng(9);
  for (DType dt : test::weight_dtypes())
    for (int64_t C : {17, 2560})
      for (int64_t first : {0, 100}) {
        Tensor rp = test::random_weight(dt, {C}, rng, -3, 3);
        Tensor ch = test::random_f32({C}, rng);
        Tensor gh = on_device(*be, ch);
        int64_t t0 = 0;
        for (int64_t n : {700, 1, 5}) {
          Tensor x = test::random_f32({n, C}, rng, -2, 2);
          Tensor gx = test::random_f32({n, C}, rng, -4, 4), ga = test::random_f32({n, C}, rng, -4, 4);
          std::vector<int64_t> pos;
          for (int64_t t = 0; t < n; ++t) pos.push_back(first + t0 + t);
          Tensor want = f32({n, C});
          cpu->rglru_scan(want, x, gx, ga, rp, pos, ch);
          Tensor got = be->zeros(DType::F32, {n, C});
          be->rglru_scan(got, on_device(*be, x), on_device(*be, gx), on_device(*be, ga), on_device(*be, rp), pos, gh);
          const float* wv = want.data<float>();
          const std::string name = test::case_name("rglru_scan", dt, {C, first + t0, n});
          EXPECT_TRUE(test::gpu_close(on_host(*be, got), want, [&](int64_t i) { return 1e-5 * (std::fabs(wv[i]) + 1); },
                                      name));
          const float* hv = ch.data<float>();
          EXPECT_TRUE(test::gpu_close(on_host(*be, gh), ch, [&](int64_t i) { return 1e-5 * (std::fabs(hv[i]) + 1); },
                                      name + " state"));
          t0 += n;
        }
      }
}

// rotary_qk (queries and keys in one launch) = rotary of each, bit for bit, at one row (decode) and many.
TEST(CudaOps, RotaryQkEqualsRotaryOfEach) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  std::mt19937 rng(12);
  for (int64_t T : {int64_t(1), int64_t(37)})
    for (auto [qh, kh, hd, rot] : {std::tuple<int, int, int, int>{10, 1, 256, 128}, {4, 2, 64, 64}}) {
      const Tensor q = test::random_f32({T, int64_t(qh) * hd}, rng, -2, 2);
      const Tensor k = test::random_f32({T, int64_t(kh) * hd}, rng, -2, 2);
      Tensor q1 = on_device(*be, q), k1 = on_device(*be, k), q2 = on_device(*be, q), k2 = on_device(*be, k);
      be->rotary(q1, qh, hd, rot, 10000.0f, 4000);
      be->rotary(k1, kh, hd, rot, 10000.0f, 4000);
      be->rotary_qk(q2, qh, k2, kh, hd, rot, 10000.0f, 4000);
      const std::string what = test::case_name("rotary_qk", DType::F32, {T, qh, kh, hd, rot});
      EXPECT_TRUE(test::bitwise_equal(on_host(*be, q2), on_host(*be, q1), what + " q"));
      EXPECT_TRUE(test::bitwise_equal(on_host(*be, k2), on_host(*be, k1), what + " k"));
    }
}

// argmax_rows on the device = the host's argmax of each row (core/argmax.hpp): rows full of ties, signed zeros,
// infinities and NaNs (one row starting with NaN), at lengths around the kernel's 4,096-value slices and at the
// 2B vocabulary.
TEST(CudaOps, ArgmaxRowsEqualTheHost) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  std::mt19937 rng(8);
  const float specials[] = {NAN, 0.0f, -0.0f, -INFINITY, INFINITY, 1.0f};
  std::uniform_int_distribution<int> pick(0, 12);
  std::normal_distribution<float> normal;
  int cases = 0;
  for (int64_t N : {int64_t(1), int64_t(2), int64_t(100), int64_t(4095), int64_t(4097), int64_t(256000)})
    for (int64_t R : {int64_t(1), int64_t(3), int64_t(8)})
      for (int rep = 0; rep < 3; ++rep) {
        Tensor x = f32({R, N});
        float* v = x.data<float>();
        for (int64_t i = 0; i < R * N; ++i) {
          const int c = pick(rng);
          v[i] = rep == 0 ? normal(rng) : c < 6 ? specials[c] : float(int(normal(rng) * 3));
        }
        if (R > 1) v[N] = NAN;  // row 1 starts with NaN: 0
        std::vector<int32_t> got(size_t(R), -1);
        be->argmax_rows(on_device(*be, x), got.data());
        for (int64_t r = 0; r < R; ++r)
          ASSERT_EQ(got[size_t(r)], argmax(v + r * N, N)) << "R " << R << " N " << N << " rep " << rep << " row " << r;
        ++cases;
      }
  std::printf("[ cuda op  ] argmax_rows: %d cases equal to the host's argmax\n", cases);
}

TEST(CudaOps, Rotary) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  auto cpu = make_cpu_backend();
  std::mt19937 rng(10);
  for (auto [heads, hd, rot] : {std::tuple<int, int, int>{3, 64, 32}, {1, 256, 128}, {2, 40, 40}})
    for (int64_t first : {0, 5000}) {
      Tensor x = test::random_f32({40, int64_t(heads) * hd}, rng, -2, 2);
      Tensor want = test::clone(x);
      cpu->rotary(want, heads, hd, rot, 10000.0f, first);
      Tensor got = on_device(*be, x);
      be->rotary(got, heads, hd, rot, 10000.0f, first);
      const float* xv = x.data<float>();
      auto bound = [&](int64_t i) {
        const int64_t d = i % hd;
        if (d >= rot) return 0.0;
        const int64_t pair = d < rot / 2 ? i + rot / 2 : i - rot / 2;
        return 4 * kU * (std::fabs(xv[i]) + std::fabs(xv[pair])) + 1e-30;
      };
      EXPECT_TRUE(test::gpu_close(on_host(*be, got), want, bound, test::case_name("rotary", DType::F32, {heads, hd, rot, first})));
    }
}

TEST(CudaOps, SelectiveScan) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  auto cpu = make_cpu_backend();
  std::mt19937 rng(11);
  for (DType dt : test::weight_dtypes())
    for (int64_t Din : {17, 64})
      // 4 lanes a channel, each holding 1, 2, 4, 8 or 16 state entries (N = 7, 24 and 33 leave some empty)
      for (int64_t N : {4, 7, 16, 24, 33}) {
        Tensor A_log = test::random_weight(dt, {Din, N}, rng, 0.0f, 2.8f);
        Tensor D = test::random_weight(dt, {Din}, rng, 0.5f, 1.5f);
        Tensor cs = test::random_f32({Din, N}, rng);
        Tensor gs = on_device(*be, cs);
        // 300 and 1,100 steps take the staged kernel (32-step tiles, the last one partial), 1 and 7 the
        // per-step one; the state carries from call to call
        for (int64_t T : {300, 1, 7, 1100}) {
          Tensor x = test::random_f32({T, Din}, rng, -2, 2);
          Tensor delta = test::random_f32({T, Din}, rng, 0.001f, 0.2f);
          Tensor B = test::random_f32({T, N}, rng), C = test::random_f32({T, N}, rng);
          Tensor want = f32({T, Din});
          cpu->selective_scan(want, x, delta, A_log, B, C, D, cs);
          Tensor got = be->zeros(DType::F32, {T, Din});
          be->selective_scan(got, on_device(*be, x), on_device(*be, delta), on_device(*be, A_log), on_device(*be, B),
                             on_device(*be, C), on_device(*be, D), gs);
          const float* wv = want.data<float>();
          const double k = 1e-5 * std::sqrt(double(N));
          const std::string name = test::case_name("selective_scan", dt, {Din, N, T});
          EXPECT_TRUE(test::gpu_close(on_host(*be, got), want, [&](int64_t i) { return k * (std::fabs(wv[i]) + 1); }, name));
          const float* sv = cs.data<float>();
          EXPECT_TRUE(test::gpu_close(on_host(*be, gs), cs, [&](int64_t i) { return k * (std::fabs(sv[i]) + 1); },
                                      name + " state"));
        }
      }
}

// One 70-step call takes the staged kernel, calls of 31, 31 and 8 steps the per-step one (both kernels take each
// step through scan_step): outputs and final state agree bit for bit.
TEST(CudaOps, SelectiveScanStagedEqualsPerStep) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  std::mt19937 rng(13);
  const int64_t T = 70, Din = 37, N = 16;
  Tensor A_log = on_device(*be, test::random_weight(DType::BF16, {Din, N}, rng, 0.0f, 2.8f));
  Tensor D = on_device(*be, test::random_weight(DType::BF16, {Din}, rng, 0.5f, 1.5f));
  Tensor x = on_device(*be, test::random_f32({T, Din}, rng, -2, 2));
  Tensor delta = on_device(*be, test::random_f32({T, Din}, rng, 0.001f, 0.2f));
  Tensor B = on_device(*be, test::random_f32({T, N}, rng)), C = on_device(*be, test::random_f32({T, N}, rng));
  Tensor state0 = test::random_f32({Din, N}, rng);
  Tensor whole = be->zeros(DType::F32, {T, Din}), whole_state = on_device(*be, state0);
  be->selective_scan(whole, x, delta, A_log, B, C, D, whole_state);
  Tensor split = be->zeros(DType::F32, {T, Din}), split_state = on_device(*be, state0);
  for (auto [t0, t1] : {std::pair<int64_t, int64_t>{0, 31}, {31, 62}, {62, 70}}) {
    Tensor part = split.rows(t0, t1);
    be->selective_scan(part, x.rows(t0, t1), delta.rows(t0, t1), A_log, B.rows(t0, t1), C.rows(t0, t1), D,
                       split_state);
  }
  EXPECT_TRUE(test::bitwise_equal(on_host(*be, split), on_host(*be, whole), "selective_scan outputs"));
  EXPECT_TRUE(test::bitwise_equal(on_host(*be, split_state), on_host(*be, whole_state), "selective_scan state"));
}

// 77 and 40 rows (uploaded), 3 and 5 (passed in the kernel's arguments: a decode step's MoE routing); 77 and 3
// with a repeated row (one thread per column walks them), 40 and 5 distinct and out of order (all at once).
TEST(CudaOps, GatherAndScatterRows) {
  HL_CUDA_BACKEND_OR_SKIP(be, false);
  auto cpu = make_cpu_backend();
  std::mt19937 rng(12);
  const int64_t R = 50, W = 1000;
  Tensor x = test::random_f32({R, W}, rng);
  for (int64_t n : {77, 3, 40, 5}) {
    std::vector<int32_t> rows;
    std::vector<float> weights;
    const bool distinct = n == 40 || n == 5;
    std::vector<int32_t> order(R);
    for (int64_t r = 0; r < R; ++r) order[size_t(r)] = int32_t(r);
    std::shuffle(order.begin(), order.end(), rng);
    for (int64_t i = 0; i < n; ++i) {
      if (distinct)
        rows.push_back(order[size_t(i)]);
      else
        rows.push_back(i == 2 ? rows[0] : int32_t(rng() % R));  // row 2 repeats row 0
      weights.push_back(float(rng() % 1000) / 1000.0f);
    }
    const std::string name = " (" + std::to_string(n) + " rows)";
    Tensor want = f32({n, W});
    cpu->gather_rows(want, x, rows);
    Tensor got = be->zeros(DType::F32, {n, W});
    be->gather_rows(got, on_device(*be, x), rows);
    EXPECT_TRUE(test::bitwise_equal(on_host(*be, got), want, "gather_rows" + name));
    Tensor src = test::random_f32({n, W}, rng);
    Tensor y = test::clone(x);
    cpu->scatter_add_rows(y, src, rows, weights);
    Tensor gy = on_device(*be, x);
    be->scatter_add_rows(gy, on_device(*be, src), rows, weights);
    std::vector<double> S(size_t(R * W));
    for (int64_t i = 0; i < R * W; ++i) S[size_t(i)] = std::fabs(x.data<float>()[i]);
    for (size_t i = 0; i < rows.size(); ++i)
      for (int64_t c = 0; c < W; ++c)
        S[size_t(rows[i] * W + c)] += std::fabs(weights[i] * src.data<float>()[int64_t(i) * W + c]);
    EXPECT_TRUE(test::gpu_close(on_host(*be, gy), y, [&](int64_t i) { return 8 * kU * S[size_t(i)] + 1e-30; },
                                "scatter_add_rows" + name));
  }
  Tensor got = be->zeros(DType::F32, {77, W});
  EXPECT_THROW(be->gather_rows(got, on_device(*be, x), std::vector<int32_t>(77, int32_t(R))), Error);
  Tensor got3 = be->zeros(DType::F32, {3, W});
  EXPECT_THROW(be->gather_rows(got3, on_device(*be, x), std::vector<int32_t>(3, int32_t(R))), Error);
}

}  // namespace
}  // namespace hl
