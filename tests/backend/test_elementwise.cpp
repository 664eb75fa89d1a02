// Row and elementwise operations against the reference, with their error bounds (u = 2^-24):
//   embed            exact (the fp32 product of two floats is correctly rounded either way)
//   rms_norm         |err| <= 16u |ref|              (~6 roundings of a product chain, double sum of squares)
//   activation       gelu_tanh: |err| <= 16u (|x| + |ref|)   (tanh's argument error is damped by sech^2,
//                    1 + tanh can cancel: an absolute term in |x|); silu, softplus: |err| <= 16u |ref|
//   activation_mul   the activation's bound times |b|, plus 2u |ref|
//   soft_cap         |err| <= 16u |ref|
//   add_inplace      |err| <= u |ref| (one rounding)
// (plus 1e-37 everywhere for results that underflow).
#include <gtest/gtest.h>

#include <cmath>

#include "backend_test_util.hpp"
#include "hybridlens/backend/cpu/isa.hpp"
#include "hybridlens/backend/cpu/ops.hpp"
#include "hybridlens/backend/reference/reference.hpp"

namespace hl {
namespace {

using test::kU;
constexpr double kTiny = 1e-37;

TEST(BackendEmbed, GathersRowsExactly) {
  std::mt19937 rng(1);
  for (DType dt : test::weight_dtypes())
    for (int64_t D : {1, 17, 40}) {
      Tensor table = test::random_weight(dt, {50, D}, rng, -3, 3);
      const std::vector<int32_t> ids = {0, 49, 7, 7, 23};
      for (float scale : {1.0f, 50.5f}) {
        Tensor got = Tensor::zeros(DType::F32, {5, D}), want = Tensor::zeros(DType::F32, {5, D});
        cpu::embed(got, table, ids, scale);
        ref::embed(want, table, ids, scale);
        EXPECT_TRUE(test::bitwise_equal(got, want, test::case_name("embed", dt, {D})));
      }
    }
}

TEST(BackendRmsNorm, MatchesReferenceBothWeightConventions) {
  std::mt19937 rng(2);
  for (DType dt : test::weight_dtypes())
    for (int64_t T : {1, 3, 9})
      for (int64_t C : {1, 15, 17, 257, 2560})
        for (bool one_plus : {true, false}) {
          Tensor x = test::random_f32({T, C}, rng, -4, 4);
          Tensor w = test::random_weight(dt, {C}, rng, -1.5, 1.5);
          Tensor got = Tensor::zeros(DType::F32, {T, C}), want = Tensor::zeros(DType::F32, {T, C});
          cpu::rms_norm(got, x, w, 1e-6f, one_plus);
          ref::rms_norm(want, x, w, 1e-6f, one_plus);
          const float* r = want.data<float>();
          EXPECT_TRUE(test::close_within(got, want, [&](int64_t i) { return 16 * kU * std::fabs(r[i]) + kTiny; },
                                         test::case_name(one_plus ? "rms_norm(1+w)" : "rms_norm(w)", dt, {T, C})));
          // In place (out aliases x) gives the same values.
          Tensor inplace = test::clone(x);
          cpu::rms_norm(inplace, inplace, w, 1e-6f, one_plus);
          EXPECT_TRUE(test::bitwise_equal(inplace, got, "rms_norm in place"));
        }
}

// Inputs: a spread of ordinary values plus the tails and thresholds.
Tensor activation_inputs(std::mt19937& rng, int64_t n) {
  Tensor x = test::random_f32({n}, rng, -8, 8);
  const float special[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 19.9f, 20.0f, 20.1f, 30.0f, -30.0f, 100.0f, -100.0f, 1e-3f};
  for (size_t i = 0; i < sizeof(special) / sizeof(float) && int64_t(i) < n; ++i) x.data<float>()[i] = special[i];
  return x.reshape({n / 7, 7});
}

double act_bound(Activation act, double x, double ref) {
  if (act == Activation::GeluTanh) return 16 * kU * (std::fabs(x) + std::fabs(ref)) + kTiny;
  return 16 * kU * std::fabs(ref) + kTiny;
}

const char* act_name(Activation a) {
  return a == Activation::GeluTanh ? "gelu_tanh" : a == Activation::Silu ? "silu" : "softplus";
}

// The ISAs this CPU can run: the activations and the RG-LRU have an AVX-512 and a portable version.
std::vector<cpu::Isa> isas() {
  cpu::reset_isa();
  if (cpu::active_isa() == cpu::Isa::Avx512) return {cpu::Isa::Avx512, cpu::Isa::Portable};
  return {cpu::Isa::Portable};
}

TEST(BackendActivation, MatchesReference) {
  std::mt19937 rng(3);
  for (cpu::Isa isa : isas())
  for (Activation act : {Activation::GeluTanh, Activation::Silu, Activation::Softplus}) {
    cpu::ScopedIsa scoped(isa);
    Tensor x = activation_inputs(rng, 7 * 4099);
    Tensor got = Tensor::zeros(DType::F32, x.shape()), want = Tensor::zeros(DType::F32, x.shape());
    cpu::activation(got, x, act);
    ref::activation(want, x, act);
    const float* xs = x.data<float>();
    const float* r = want.data<float>();
    EXPECT_TRUE(test::close_within(got, want, [&](int64_t i) { return act_bound(act, xs[i], r[i]); },
                                   std::string(act_name(act)) + " " + cpu::isa_name(isa)));
    Tensor inplace = test::clone(x);
    cpu::activation(inplace, inplace, act);
    EXPECT_TRUE(test::bitwise_equal(inplace, got, std::string(act_name(act)) + " in place"));
  }
}

TEST(BackendActivation, MulMatchesReference) {
  std::mt19937 rng(4);
  for (cpu::Isa isa : isas())
  for (Activation act : {Activation::GeluTanh, Activation::Silu, Activation::Softplus}) {
    cpu::ScopedIsa scoped(isa);
    Tensor a = activation_inputs(rng, 7 * 1001);
    Tensor b = test::random_f32(a.shape(), rng, -3, 3);
    Tensor got = Tensor::zeros(DType::F32, a.shape()), want = Tensor::zeros(DType::F32, a.shape());
    cpu::activation_mul(got, a, b, act);
    ref::activation_mul(want, a, b, act);
    const float *as = a.data<float>(), *bs = b.data<float>(), *r = want.data<float>();
    EXPECT_TRUE(test::close_within(
        got, want,
        [&](int64_t i) {
          return act_bound(act, as[i], ref::activate(as[i], act)) * std::fabs(bs[i]) + 2 * kU * std::fabs(r[i]);
        },
        std::string(act_name(act)) + " * b " + cpu::isa_name(isa)));
    Tensor in_a = test::clone(a), in_b = test::clone(b);
    cpu::activation_mul(in_a, in_a, b, act);
    cpu::activation_mul(in_b, a, in_b, act);
    EXPECT_TRUE(test::bitwise_equal(in_a, got, "activation_mul into a"));
    EXPECT_TRUE(test::bitwise_equal(in_b, got, "activation_mul into b"));
  }
}

TEST(BackendSoftCap, MatchesReference) {
  for (cpu::Isa isa : isas()) {
    cpu::ScopedIsa scoped(isa);
    std::mt19937 rng(5);
    Tensor x = test::random_f32({33, 257}, rng, -200, 200);
    const float special[] = {0.0f, -0.0f, 1e-6f, -1e-6f, 1e-30f, 0.3f, -0.3f, 10.39f, 10.4f, 1e6f, -1e6f, -1e-3f};
    for (int i = 0; i < 12; ++i) x.data<float>()[i] = special[i];
    Tensor want = test::clone(x);
    cpu::soft_cap(x, 30.0f);
    ref::soft_cap(want, 30.0f);
    const float* r = want.data<float>();
    EXPECT_TRUE(test::close_within(x, want, [&](int64_t i) { return 16 * kU * std::fabs(r[i]) + kTiny; },
                                   std::string("soft_cap ") + cpu::isa_name(isa)));
    EXPECT_TRUE(std::signbit(x.data<float>()[1]));
  }
}

TEST(BackendAddInplace, MatchesReference) {
  std::mt19937 rng(6);
  Tensor x = test::random_f32({17, 1000}, rng), y = test::random_f32({17, 1000}, rng);
  Tensor want = test::clone(x);
  cpu::add_inplace(x, y);
  ref::add_inplace(want, y);
  const float* r = want.data<float>();
  EXPECT_TRUE(test::close_within(x, want, [&](int64_t i) { return kU * std::fabs(r[i]) + kTiny; }, "add_inplace"));
}

TEST(BackendElementwise, PortablePathMatchesToo) {
  // The weight widening used by embed/rms_norm has an AVX-512 and a portable version.
  cpu::ScopedIsa portable(cpu::Isa::Portable);
  std::mt19937 rng(7);
  for (DType dt : test::weight_dtypes()) {
    Tensor table = test::random_weight(dt, {9, 33}, rng);
    Tensor got = Tensor::zeros(DType::F32, {2, 33}), want = Tensor::zeros(DType::F32, {2, 33});
    cpu::embed(got, table, {8, 1}, 2.0f);
    ref::embed(want, table, {8, 1}, 2.0f);
    EXPECT_TRUE(test::bitwise_equal(got, want, test::case_name("portable embed", dt, {33})));
  }
}

}  // namespace
}  // namespace hl
