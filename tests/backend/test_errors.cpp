// Every CPU operation rejects mismatched shapes and dtypes with hl::Error naming the operation.
#include <gtest/gtest.h>

#include <string>

#include "hybridlens/backend/backend.hpp"
#include "hybridlens/core/error.hpp"

namespace hl {
namespace {

Tensor f32(Shape s) { return Tensor::zeros(DType::F32, std::move(s)); }
Tensor bf16(Shape s) { return Tensor::zeros(DType::BF16, std::move(s)); }

// Runs fn, expects hl::Error whose message starts with the op name.
template <class F>
void expect_error(const char* op, F&& fn) {
  try {
    fn();
    ADD_FAILURE() << op << ": no error thrown";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(op, 0), 0u) << "message: " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << op << ": threw something other than hl::Error: " << e.what();
  }
}

class BackendErrors : public ::testing::Test {
 protected:
  std::unique_ptr<Backend> be = make_cpu_backend();
};

TEST_F(BackendErrors, Linear) {
  Tensor out = f32({2, 3}), x = f32({2, 4});
  EXPECT_THROW(be->linear(out, x, bf16({3, 5}), Tensor()), Error);  // K mismatch
  expect_error("linear", [&] { be->linear(out, x, bf16({3, 5}), Tensor()); });
  expect_error("linear", [&] { be->linear(out, x, bf16({4, 4}), Tensor()); });     // N vs out
  expect_error("linear", [&] { be->linear(out, x, bf16({3, 4}), f32({4})); });     // bias length
  expect_error("linear", [&] { be->linear(out, f32({2, 2, 2}), bf16({3, 4}), Tensor()); });
  expect_error("linear", [&] { be->linear(out, x, Tensor::zeros(DType::I32, {3, 4}), Tensor()); });
  expect_error("linear", [&] { be->linear(out, x, bf16({3, 4}), Tensor::zeros(DType::I32, {3})); });  // bias dtype
  expect_error("linear", [&] { be->linear(out, x, bf16({3, 4}), Tensor::zeros(DType::F32, {3, 1})); });
  Tensor same = f32({4, 4});
  expect_error("linear", [&] { be->linear(same, same, f32({4, 4}), Tensor()); });  // out aliases x
  expect_error("linear", [&] { be->linear(out, x, Tensor(), Tensor()); });         // undefined weight
}

TEST_F(BackendErrors, BlockDiagLinear) {
  Tensor out = f32({2, 6}), x = f32({2, 6});
  EXPECT_THROW(be->block_diag_linear(out, x, bf16({2, 3, 2}), Tensor()), Error);
  expect_error("block_diag_linear", [&] { be->block_diag_linear(out, x, bf16({2, 3, 2}), Tensor()); });
  expect_error("block_diag_linear", [&] { be->block_diag_linear(out, x, bf16({3, 3, 3}), Tensor()); });
  expect_error("block_diag_linear", [&] { be->block_diag_linear(out, x, bf16({2, 3, 3}), f32({3, 2})); });
  expect_error("block_diag_linear", [&] { be->block_diag_linear(out, f32({2, 5}), bf16({2, 3, 3}), Tensor()); });
}

TEST_F(BackendErrors, RowAndElementwise) {
  Tensor a = f32({2, 3}), b = f32({3, 2}), c = f32({2, 3});
  EXPECT_THROW(be->add_inplace(a, b), Error);
  expect_error("add_inplace", [&] { be->add_inplace(a, b); });
  expect_error("activation", [&] { be->activation(a, b, Activation::Silu); });
  expect_error("activation_mul", [&] { be->activation_mul(c, a, b, Activation::GeluTanh); });
  expect_error("activation_mul", [&] { be->activation_mul(b, a, c, Activation::GeluTanh); });
  Tensor partial = f32({4, 3});
  expect_error("activation", [&] {
    Tensor top = partial.rows(0, 2), shifted = partial.rows(1, 3);
    be->activation(top, shifted, Activation::Silu);  // partial overlap
  });
  Tensor i32 = Tensor::zeros(DType::I32, {2, 3});
  expect_error("soft_cap", [&] { be->soft_cap(i32, 30.0f); });
  expect_error("soft_cap", [&] { be->soft_cap(a, 0.0f); });
  expect_error("rms_norm", [&] { be->rms_norm(a, a, f32({4}), 1e-6f, true); });
  expect_error("rms_norm", [&] { be->rms_norm(b, a, f32({3}), 1e-6f, true); });
  Tensor emb = f32({2, 3});
  expect_error("embed", [&] { be->embed(emb, bf16({10, 3}), {1, 10}, 1.0f); });    // id past the vocabulary
  expect_error("embed", [&] { be->embed(emb, bf16({10, 3}), {1, -1}, 1.0f); });
  expect_error("embed", [&] { be->embed(emb, bf16({10, 4}), {1, 2}, 1.0f); });     // D mismatch
  expect_error("embed", [&] { be->embed(emb, bf16({10, 3}), {1}, 1.0f); });        // T mismatch
}

TEST_F(BackendErrors, SequenceOps) {
  Tensor out = f32({5, 8}), x = f32({5, 8}), state = f32({3, 8});
  EXPECT_THROW(be->conv1d_causal(out, x, bf16({8, 1, 3}), Tensor(), state), Error);
  expect_error("conv1d_causal", [&] { be->conv1d_causal(out, x, bf16({8, 1, 3}), Tensor(), state); });  // width vs state
  expect_error("conv1d_causal", [&] { be->conv1d_causal(out, x, bf16({7, 1, 4}), Tensor(), state); });
  expect_error("conv1d_causal", [&] { be->conv1d_causal(out, x, bf16({8, 2, 4}), Tensor(), state); });
  expect_error("conv1d_causal", [&] { be->conv1d_causal(out, x, bf16({8, 4}), f32({7}), state); });
  Tensor out_short = f32({4, 8});
  expect_error("conv1d_causal", [&] { be->conv1d_causal(out_short, x, bf16({8, 4}), Tensor(), state); });

  Tensor h = f32({8});
  const std::vector<int64_t> pos = {0, 1, 2, 3, 4};
  EXPECT_THROW(be->rglru_scan(out, x, x, f32({5, 7}), f32({8}), pos, h), Error);
  expect_error("rglru_scan", [&] { be->rglru_scan(out, x, x, f32({5, 7}), f32({8}), pos, h); });
  expect_error("rglru_scan", [&] { be->rglru_scan(out, x, x, x, f32({7}), pos, h); });
  expect_error("rglru_scan", [&] { be->rglru_scan(out, x, x, x, f32({8}), {0, 1}, h); });
  Tensor h_bad = f32({9});
  expect_error("rglru_scan", [&] { be->rglru_scan(out, x, x, x, f32({8}), pos, h_bad); });
  expect_error("rglru_scan", [&] { be->rglru_scan(out, x, out, x, f32({8}), pos, h); });  // out aliases an input

  Tensor q = f32({2, 3 * 16});
  EXPECT_THROW(be->rotary(q, 2, 16, 8, 1e4f, 0), Error);
  expect_error("rotary", [&] { be->rotary(q, 2, 16, 8, 1e4f, 0); });   // heads * head_dim != 48
  expect_error("rotary", [&] { be->rotary(q, 3, 16, 7, 1e4f, 0); });   // odd rot_dims
  expect_error("rotary", [&] { be->rotary(q, 3, 16, 18, 1e4f, 0); });  // rot_dims > head_dim
  expect_error("rotary", [&] { be->rotary(q, 3, 16, 8, 1e4f, -1); });
}

TEST_F(BackendErrors, MemoryOps) {
  Tensor a = f32({2, 3}), b = bf16({2, 3}), c = f32({7});
  EXPECT_THROW(be->copy(a, b), Error);
  expect_error("copy", [&] { be->copy(a, c); });
  std::vector<float> host(6);
  expect_error("to_host", [&] { be->to_host(b, host.data()); });
  EXPECT_NO_THROW(be->copy(a, f32({3, 2})));
  EXPECT_NO_THROW(be->to_host(a, host.data()));
  EXPECT_STREQ(be->name(), "cpu");
}

}  // namespace
}  // namespace hl
