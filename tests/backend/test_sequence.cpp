// Sequence operations against the reference, and the carried state (u = 2^-24):
//   conv1d_causal  |err| <= (width + 3) u S, S = sum_j |w_j in_j| + |b|; the state after the call exactly
//   rglru_scan     |err| <= 32 (t + 1) u A_t, A_t = a_t A_{t-1} + mult_t gx_t |x_t| (A_{-1} = |h0|): a few
//                  roundings per step, carried and damped by the recurrence
//   rotary         |err| <= 4u (|x_i| + |x_pair(i)|); dimensions from rot_dims on are left bit-identical
// Splitting a sequence over calls (prefill, then token by token) gives bit-identical outputs and state.
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

Tensor conv_weight(DType dt, int64_t C, int64_t width, bool three_d, std::mt19937& rng) {
  return three_d ? test::random_weight(dt, {C, 1, width}, rng) : test::random_weight(dt, {C, width}, rng);
}

TEST(BackendConv1d, MatchesReferenceWithState) {
  std::mt19937 rng(1);
  for (DType dt : test::weight_dtypes())
    for (int64_t width : {1, 2, 4})
      for (int64_t T : {1, 3, 33})
        for (int64_t C : {1, 17, 40}) {
          const bool three_d = (T + C) % 2 == 0, with_bias = C != 17;
          Tensor w = conv_weight(dt, C, width, three_d, rng);
          Tensor b = with_bias ? test::random_weight(dt, {C}, rng) : Tensor();
          Tensor x = test::random_f32({T, C}, rng, -2, 2);
          Tensor state = test::random_f32({width - 1, C}, rng, -2, 2);
          Tensor ref_state = test::clone(state);
          Tensor got = Tensor::zeros(DType::F32, {T, C}), want = Tensor::zeros(DType::F32, {T, C});
          // S for the bound, from the inputs [state; x]
          std::vector<double> s(static_cast<size_t>(T * C));
          for (int64_t t = 0; t < T; ++t)
            for (int64_t c = 0; c < C; ++c) {
              double a = with_bias ? std::fabs(ref::weight_value(b, c)) : 0.0;
              for (int64_t j = 0; j < width; ++j) {
                const int64_t src = t - (width - 1) + j;
                const float in = src >= 0 ? x.data<float>()[src * C + c] : state.data<float>()[(width - 1 + src) * C + c];
                a += std::fabs(ref::weight_value(w, c * width + j) * in);
              }
              s[size_t(t * C + c)] = a;
            }
          cpu::conv1d_causal(got, x, w, b, state);
          ref::conv1d_causal(want, x, w, b, ref_state);
          const std::string name = test::case_name("conv1d_causal", dt, {width, T, C});
          EXPECT_TRUE(test::close_within(got, want, [&](int64_t i) { return double(width + 3) * kU * s[size_t(i)] + kTiny; },
                                         name));
          EXPECT_TRUE(test::bitwise_equal(state, ref_state, name + " state"));
        }
}

TEST(BackendConv1d, SplitCallsEqualOneCall) {
  std::mt19937 rng(2);
  const int64_t T = 11, C = 37, width = 4;
  Tensor w = test::random_weight(DType::BF16, {C, 1, width}, rng);
  Tensor b = test::random_f32({C}, rng);
  Tensor x = test::random_f32({T, C}, rng);
  Tensor full = Tensor::zeros(DType::F32, {T, C});
  Tensor state_full = Tensor::zeros(DType::F32, {width - 1, C});
  cpu::conv1d_causal(full, x, w, b, state_full);
  // Splits: a prefill of 5 then single tokens; a first call shorter than the state (1, then 2, then the rest).
  for (const std::vector<int64_t>& splits : {std::vector<int64_t>{5, 1, 1, 1, 1, 1, 1}, std::vector<int64_t>{1, 2, 8}}) {
    Tensor state = Tensor::zeros(DType::F32, {width - 1, C});
    Tensor out = Tensor::zeros(DType::F32, {T, C});
    int64_t t0 = 0;
    for (int64_t n : splits) {
      Tensor o = out.rows(t0, t0 + n);
      cpu::conv1d_causal(o, x.rows(t0, t0 + n), w, b, state);
      t0 += n;
    }
    ASSERT_EQ(t0, T);
    EXPECT_TRUE(test::bitwise_equal(out, full, "conv1d split output"));
    EXPECT_TRUE(test::bitwise_equal(state, state_full, "conv1d split state"));
  }
}

struct RglruInputs {
  Tensor x, gx, ga, rp, h0;
  std::vector<int64_t> positions;
};

RglruInputs rglru_inputs(int64_t T, int64_t C, DType dt, std::mt19937& rng, int64_t reset_at) {
  RglruInputs in;
  in.x = test::random_f32({T, C}, rng);
  in.gx = test::random_f32({T, C}, rng, -4, 4);
  in.ga = test::random_f32({T, C}, rng, -4, 4);
  // recurrent_param over [-12, 4]: softplus from ~6e-6 (a ~ 1, the expm1 form matters) to ~4.
  in.rp = test::random_weight(dt, {C}, rng, -12, 4);
  in.h0 = test::random_f32({C}, rng, -2, 2);
  for (int64_t t = 0; t < T; ++t) in.positions.push_back(t < reset_at ? 100 + t : t - reset_at);
  return in;
}

TEST(BackendRglru, MatchesReference) {
  std::mt19937 rng(3);
  cpu::reset_isa();
  std::vector<cpu::Isa> isas = {cpu::Isa::Portable};
  if (cpu::active_isa() >= cpu::Isa::Avx2) isas.push_back(cpu::Isa::Avx2);
  if (cpu::active_isa() == cpu::Isa::Avx512) isas.push_back(cpu::Isa::Avx512);
  for (cpu::Isa isa : isas)
  for (DType dt : test::weight_dtypes())
    for (int64_t T : {1, 7, 40})
      for (int64_t C : {1, 17, 70})
        for (int64_t reset_at : {int64_t(0), T / 2, T + 1}) {
          RglruInputs in = rglru_inputs(T, C, dt, rng, reset_at);
          cpu::ScopedIsa scoped(isa);
          Tensor h = test::clone(in.h0), h_ref = test::clone(in.h0);
          Tensor got = Tensor::zeros(DType::F32, {T, C}), want = Tensor::zeros(DType::F32, {T, C});
          cpu::rglru_scan(got, in.x, in.gx, in.ga, in.rp, in.positions, h);
          ref::rglru_scan(want, in.x, in.gx, in.ga, in.rp, in.positions, h_ref);
          // A_t per element, the magnitude the error scales with.
          std::vector<double> bound(static_cast<size_t>(T * C));
          for (int64_t c = 0; c < C; ++c) {
            double A = std::fabs(in.h0.data<float>()[c]);
            const double sp = ref::softplus(ref::weight_value(in.rp, c));
            for (int64_t t = 0; t < T; ++t) {
              const int64_t i = t * C + c;
              const double log_a = -8.0 * ref::sigmoid(in.ga.data<float>()[i]) * sp;
              const bool reset = in.positions[size_t(t)] == 0;
              const double mult = reset ? 1.0 : std::sqrt(-std::expm1(2 * log_a));
              A = (reset ? 0.0 : std::exp(log_a) * A) + mult * ref::sigmoid(in.gx.data<float>()[i]) * std::fabs(in.x.data<float>()[i]);
              bound[size_t(i)] = 32.0 * double(t + 1) * kU * A + kTiny;
            }
          }
          const std::string name = test::case_name(std::string("rglru_scan ") + cpu::isa_name(isa), dt, {T, C, reset_at});
          EXPECT_TRUE(test::close_within(got, want, [&](int64_t i) { return bound[size_t(i)]; }, name));
          EXPECT_TRUE(test::close_within(h, h_ref, [&](int64_t c) { return bound[size_t((T - 1) * C + c)]; }, name + " h"));
        }
}

TEST(BackendRglru, SplitCallsEqualOneCall) {
  std::mt19937 rng(4);
  const int64_t T = 12, C = 67;
  RglruInputs in = rglru_inputs(T, C, DType::BF16, rng, 0);
  Tensor h_full = test::clone(in.h0);
  Tensor full = Tensor::zeros(DType::F32, {T, C});
  cpu::rglru_scan(full, in.x, in.gx, in.ga, in.rp, in.positions, h_full);
  Tensor h = test::clone(in.h0);
  Tensor out = Tensor::zeros(DType::F32, {T, C});
  int64_t t0 = 0;
  for (int64_t n : {5, 1, 1, 1, 1, 1, 1, 1}) {
    Tensor o = out.rows(t0, t0 + n);
    const std::vector<int64_t> pos(in.positions.begin() + t0, in.positions.begin() + t0 + n);
    cpu::rglru_scan(o, in.x.rows(t0, t0 + n), in.gx.rows(t0, t0 + n), in.ga.rows(t0, t0 + n), in.rp, pos, h);
    t0 += n;
  }
  ASSERT_EQ(t0, T);
  EXPECT_TRUE(test::bitwise_equal(out, full, "rglru split output"));
  EXPECT_TRUE(test::bitwise_equal(h, h_full, "rglru split state"));
}

TEST(BackendRotary, MatchesReference) {
  std::mt19937 rng(5);
  for (int heads : {1, 3})
    for (int head_dim : {8, 34, 256})
      for (int rot : {0, 2, head_dim / 4 * 2, head_dim})
        for (int64_t first_pos : {int64_t(0), int64_t(5), int64_t(100000)}) {
          const int64_t T = 4;
          Tensor x = test::random_f32({T, int64_t(heads) * head_dim}, rng, -3, 3);
          Tensor got = test::clone(x), want = test::clone(x);
          cpu::rotary(got, heads, head_dim, rot, 10000.0f, first_pos);
          ref::rotary(want, heads, head_dim, rot, 10000.0f, first_pos);
          const float* xs = x.data<float>();
          const int half = rot / 2;
          auto bound = [&](int64_t i) {
            const int d = int(i % head_dim);
            if (d >= rot) return 0.0;  // untouched: must be identical
            const int pair = d < half ? d + half : d - half;
            return 4 * kU * (std::fabs(xs[i]) + std::fabs(xs[i - d + pair])) + kTiny;
          };
          EXPECT_TRUE(test::close_within(got, want, bound,
                                         "rotary heads " + std::to_string(heads) + " head_dim " + std::to_string(head_dim) +
                                             " rot " + std::to_string(rot) + " pos " + std::to_string(first_pos)));
        }
}

TEST(BackendRotary, RowByRowEqualsOneCall) {
  std::mt19937 rng(6);
  Tensor x = test::random_f32({6, 2 * 64}, rng);
  Tensor all = test::clone(x);
  cpu::rotary(all, 2, 64, 32, 10000.0f, 40);
  Tensor rows = test::clone(x);
  for (int64_t t = 0; t < 6; ++t) {
    Tensor r = rows.rows(t, t + 1);
    cpu::rotary(r, 2, 64, 32, 10000.0f, 40 + t);
  }
  EXPECT_TRUE(test::bitwise_equal(rows, all, "rotary row by row"));
}

}  // namespace
}  // namespace hl
