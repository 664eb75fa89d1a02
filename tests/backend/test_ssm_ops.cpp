// Selective scan and row gather/scatter: the CPU kernels against the plain reference versions, on random
// data at sizes that cross the 16-channel block and thread splits, with state carried across calls.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "hybridlens/backend/backend.hpp"
#include "hybridlens/backend/cpu/isa.hpp"
#include "hybridlens/backend/cpu/row_ops.hpp"
#include "hybridlens/backend/cpu/ssm_ops.hpp"
#include "hybridlens/backend/reference/row_ops.hpp"
#include "hybridlens/backend/reference/ssm_ops.hpp"
#include "hybridlens/core/parallel.hpp"

namespace hl {
namespace {

Tensor random_f32(Shape shape, float lo, float hi, std::mt19937& rng) {
  Tensor t = Tensor::zeros(DType::F32, std::move(shape));
  std::uniform_real_distribution<float> u(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

// The same values stored as `dtype` (BF16 rounds them; the reference reads the rounded values too).
Tensor as_weight(const Tensor& f, DType dtype) {
  if (dtype == DType::F32) return f;
  Tensor w = Tensor::zeros(dtype, f.shape());
  for (int64_t i = 0; i < f.numel(); ++i)
    w.data<uint16_t>()[i] = dtype == DType::BF16 ? f32_to_bf16(f.data<float>()[i]) : f32_to_f16(f.data<float>()[i]);
  return w;
}

Tensor clone(const Tensor& t) {
  Tensor c = Tensor::zeros(t.dtype(), t.shape());
  std::copy_n(static_cast<const char*>(t.raw()), t.nbytes(), static_cast<char*>(c.raw()));
  return c;
}

// max |a - b| / max(1, max |b|)
double rel_diff(const Tensor& a, const Tensor& b) {
  double m = 0, s = 1;
  for (int64_t i = 0; i < b.numel(); ++i) {
    m = std::max(m, double(std::fabs(a.data<float>()[i] - b.data<float>()[i])));
    s = std::max(s, double(std::fabs(b.data<float>()[i])));
  }
  return m / s;
}

struct ScanInputs {
  Tensor x, delta, A_log, B, C, D, state;
};

ScanInputs scan_inputs(int64_t T, int64_t Din, int64_t N, DType wdt, unsigned seed) {
  std::mt19937 rng(seed);
  ScanInputs s;
  s.x = random_f32({T, Din}, -2, 2, rng);
  s.delta = random_f32({T, Din}, -6, 3, rng);
  for (int64_t i = 0; i < s.delta.numel(); ++i) s.delta.data<float>()[i] = reference::softplus(s.delta.data<float>()[i]);
  s.A_log = as_weight(random_f32({Din, N}, -1, 3, rng), wdt);
  s.B = random_f32({T, N}, -1.5, 1.5, rng);
  s.C = random_f32({T, N}, -1.5, 1.5, rng);
  s.D = as_weight(random_f32({Din}, -1, 2, rng), wdt);
  s.state = random_f32({Din, N}, -1, 1, rng);
  return s;
}

struct ScanSize {
  int64_t T, Din, N;
};

class SelectiveScanTest : public ::testing::TestWithParam<std::tuple<ScanSize, DType>> {};

// The ISAs this CPU can run: the portable path always, AVX-512 where present.
std::vector<cpu::Isa> isas() {
  std::vector<cpu::Isa> v{cpu::Isa::Portable};
  cpu::reset_isa();
  if (cpu::active_isa() == cpu::Isa::Avx512) v.push_back(cpu::Isa::Avx512);
  return v;
}

TEST_P(SelectiveScanTest, MatchesReference) {
  const auto [size, wdt] = GetParam();
  ScanInputs in = scan_inputs(size.T, size.Din, size.N, wdt, 11);
  Tensor ref_state = clone(in.state);
  Tensor ref_y = Tensor::zeros(DType::F32, {size.T, size.Din});
  reference::selective_scan(ref_y, in.x, in.delta, in.A_log, in.B, in.C, in.D, ref_state);
  for (cpu::Isa isa : isas()) {
    SCOPED_TRACE(cpu::isa_name(isa));
    cpu::ScopedIsa scoped(isa);
    Tensor got_state = clone(in.state);
    Tensor got_y = Tensor::zeros(DType::F32, {size.T, size.Din});
    cpu::selective_scan(got_y, in.x, in.delta, in.A_log, in.B, in.C, in.D, got_state);
    EXPECT_LE(rel_diff(got_y, ref_y), 2e-5);
    EXPECT_LE(rel_diff(got_state, ref_state), 2e-5);
  }
}

TEST_P(SelectiveScanTest, StateCarriesAcrossSplitCalls) {
  const auto [size, wdt] = GetParam();
  ScanInputs in = scan_inputs(size.T, size.Din, size.N, wdt, 12);
  Tensor whole_state = clone(in.state), split_state = clone(in.state);
  Tensor whole_y = Tensor::zeros(DType::F32, {size.T, size.Din}), split_y = Tensor::zeros(DType::F32, {size.T, size.Din});
  cpu::selective_scan(whole_y, in.x, in.delta, in.A_log, in.B, in.C, in.D, whole_state);
  // Pieces of 1, a few and the rest: each continues the state the previous one left.
  for (auto [b, e] : std::vector<std::pair<int64_t, int64_t>>{{0, 1}, {1, std::min<int64_t>(5, size.T)},
                                                             {std::min<int64_t>(5, size.T), size.T}}) {
    if (b >= e) continue;
    Tensor y = split_y.rows(b, e);
    cpu::selective_scan(y, in.x.rows(b, e), in.delta.rows(b, e), in.A_log, in.B.rows(b, e), in.C.rows(b, e), in.D,
                        split_state);
  }
  EXPECT_EQ(rel_diff(split_y, whole_y), 0.0);
  EXPECT_EQ(rel_diff(split_state, whole_state), 0.0);
}

TEST_P(SelectiveScanTest, ThreadCountDoesNotChangeResults) {
  const auto [size, wdt] = GetParam();
  ScanInputs in = scan_inputs(size.T, size.Din, size.N, wdt, 13);
  Tensor s1 = clone(in.state), sn = clone(in.state);
  Tensor y1 = Tensor::zeros(DType::F32, {size.T, size.Din}), yn = Tensor::zeros(DType::F32, {size.T, size.Din});
  const int saved = num_threads();
  set_num_threads(1);
  cpu::selective_scan(y1, in.x, in.delta, in.A_log, in.B, in.C, in.D, s1);
  set_num_threads(saved);
  cpu::selective_scan(yn, in.x, in.delta, in.A_log, in.B, in.C, in.D, sn);
  EXPECT_EQ(rel_diff(yn, y1), 0.0);
  EXPECT_EQ(rel_diff(sn, s1), 0.0);
}

INSTANTIATE_TEST_SUITE_P(
    Sizes, SelectiveScanTest,
    ::testing::Combine(::testing::Values(ScanSize{1, 1, 1}, ScanSize{1, 8192, 16}, ScanSize{7, 33, 5},
                                         ScanSize{37, 70, 16}, ScanSize{130, 17, 8}, ScanSize{64, 256, 16}),
                       ::testing::Values(DType::F32, DType::BF16, DType::F16)));

TEST(SelectiveScan, LargeStepsDecayTheStateToZero) {
  // delta * A far below the exp range: the state is forgotten, y = C . (delta B x) + D x exactly as the
  // reference computes it.
  ScanInputs in = scan_inputs(3, 20, 4, DType::F32, 14);
  for (int64_t i = 0; i < in.delta.numel(); ++i) in.delta.data<float>()[i] = 100.0f;
  for (int64_t i = 0; i < in.A_log.numel(); ++i) in.A_log.data<float>()[i] = 3.0f;
  Tensor rs = clone(in.state);
  Tensor ry = Tensor::zeros(DType::F32, {3, 20}), gy = Tensor::zeros(DType::F32, {3, 20});
  reference::selective_scan(ry, in.x, in.delta, in.A_log, in.B, in.C, in.D, rs);
  for (cpu::Isa isa : isas()) {
    cpu::ScopedIsa scoped(isa);
    Tensor gs1 = clone(in.state);
    cpu::selective_scan(gy, in.x, in.delta, in.A_log, in.B, in.C, in.D, gs1);
    EXPECT_LE(rel_diff(gy, ry), 1e-6) << cpu::isa_name(isa);
    EXPECT_LE(rel_diff(gs1, rs), 1e-6) << cpu::isa_name(isa);
  }
}

TEST(SelectiveScan, RejectsMismatchedShapes) {
  ScanInputs in = scan_inputs(4, 10, 3, DType::F32, 15);
  Tensor y = Tensor::zeros(DType::F32, {4, 10});
  Tensor bad_state = Tensor::zeros(DType::F32, {10, 4});
  EXPECT_THROW(cpu::selective_scan(y, in.x, in.delta, in.A_log, in.B, in.C, in.D, bad_state), Error);
  Tensor bad_b = Tensor::zeros(DType::F32, {3, 3});
  EXPECT_THROW(cpu::selective_scan(y, in.x, in.delta, in.A_log, bad_b, in.C, in.D, in.state), Error);
  Tensor bad_y = Tensor::zeros(DType::F32, {4, 11});
  EXPECT_THROW(cpu::selective_scan(bad_y, in.x, in.delta, in.A_log, in.B, in.C, in.D, in.state), Error);
  try {
    cpu::selective_scan(y, in.x, in.delta, in.A_log, in.B, in.C, in.D, bad_state);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("selective_scan"), std::string::npos) << e.what();
  }
  // The output may not alias an input.
  EXPECT_THROW(cpu::selective_scan(in.x, in.x, in.delta, in.A_log, in.B, in.C, in.D, in.state), Error);
}

TEST(RowOps, GatherMatchesReference) {
  std::mt19937 rng(21);
  for (int64_t W : {1, 7, 64, 1000}) {
    const Tensor x = random_f32({13, W}, -1, 1, rng);
    std::vector<int32_t> rows;
    for (int i = 0; i < 29; ++i) rows.push_back(int32_t(rng() % 13));
    Tensor ref = Tensor::zeros(DType::F32, {29, W}), got = Tensor::zeros(DType::F32, {29, W});
    reference::gather_rows(ref, x, rows);
    cpu::gather_rows(got, x, rows);
    EXPECT_EQ(rel_diff(got, ref), 0.0) << "W " << W;
  }
}

TEST(RowOps, ScatterAddMatchesReferenceWithRepeatedRows) {
  std::mt19937 rng(22);
  for (int64_t W : {1, 5, 64, 3000}) {
    const Tensor y0 = random_f32({9, W}, -1, 1, rng);
    std::vector<int32_t> rows;
    std::vector<float> weights;
    for (int i = 0; i < 40; ++i) {
      rows.push_back(int32_t(rng() % 9));
      weights.push_back(float(rng() % 1000) / 997.0f);
    }
    const Tensor src = random_f32({40, W}, -1, 1, rng);
    Tensor ref = clone(y0), got = clone(y0);
    reference::scatter_add_rows(ref, src, rows, weights);
    cpu::scatter_add_rows(got, src, rows, weights);
    EXPECT_LE(rel_diff(got, ref), 1e-6) << "W " << W;
  }
}

TEST(RowOps, EmptyRowListsAreNoOps) {
  std::mt19937 rng(23);
  const Tensor x = random_f32({4, 6}, -1, 1, rng);
  Tensor out = Tensor::zeros(DType::F32, {0, 6});
  cpu::gather_rows(out, x, {});
  Tensor y = clone(x);
  cpu::scatter_add_rows(y, out, {}, {});
  EXPECT_EQ(rel_diff(y, x), 0.0);
}

TEST(RowOps, RejectRowsOutOfRangeAndBadShapes) {
  std::mt19937 rng(24);
  const Tensor x = random_f32({4, 6}, -1, 1, rng);
  Tensor out = Tensor::zeros(DType::F32, {2, 6});
  EXPECT_THROW(cpu::gather_rows(out, x, {0, 4}), Error);
  EXPECT_THROW(cpu::gather_rows(out, x, {-1, 0}), Error);
  EXPECT_THROW(cpu::gather_rows(out, x, {0}), Error);
  Tensor y = clone(x);
  EXPECT_THROW(cpu::scatter_add_rows(y, out, {0, 9}, {1, 1}), Error);
  EXPECT_THROW(cpu::scatter_add_rows(y, out, {0, 1}, {1}), Error);
  try {
    cpu::gather_rows(out, x, {0, 4});
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gather_rows"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hl
