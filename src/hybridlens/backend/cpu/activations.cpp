// activation, activation_mul, soft_cap, add_inplace: elementwise over F32 tensors, split over threads.
#include <cmath>

#include "hybridlens/backend/cpu/checks.hpp"
#include "hybridlens/backend/cpu/ops.hpp"
#include "hybridlens/backend/cpu/scalar_math.hpp"
#include "hybridlens/core/parallel.hpp"

namespace hl::cpu {
namespace {

constexpr int64_t kGrain = 1 << 14;  // elements per thread chunk worth the fork

void check_activation_tensor(const char* op, const char* name, const Tensor& t) {
  check_defined(op, name, t);
  HL_CHECK(t.dtype() == DType::F32, op, ": ", name, " must be F32, got ", t.describe());
}

template <class F>
void apply_act(Activation act, F&& body) {
  switch (act) {
    case Activation::GeluTanh: body([](float v) { return gelu_tanh(v); }); return;
    case Activation::Silu: body([](float v) { return silu(v); }); return;
    case Activation::Softplus: body([](float v) { return softplus(v); }); return;
  }
  fail("activation: unknown activation ", int(act));
}

}  // namespace

void activation(Tensor& out, const Tensor& x, Activation act) {
  constexpr const char* op = "activation";
  check_activation_tensor(op, "x", x);
  check_activation_tensor(op, "out", out);
  check_same_shape(op, "out", out, "x", x);
  check_alias_exact_or_none(op, "out", out, "x", x);
  const float* xs = x.data<float>();
  float* o = out.data<float>();
  apply_act(act, [&](auto f) {
    parallel_for(x.numel(), kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) o[i] = f(xs[i]);
    });
  });
}

void activation_mul(Tensor& out, const Tensor& a, const Tensor& b, Activation act) {
  constexpr const char* op = "activation_mul";
  check_activation_tensor(op, "a", a);
  check_activation_tensor(op, "b", b);
  check_activation_tensor(op, "out", out);
  check_same_shape(op, "a", a, "b", b);
  check_same_shape(op, "out", out, "a", a);
  check_alias_exact_or_none(op, "out", out, "a", a);
  check_alias_exact_or_none(op, "out", out, "b", b);
  const float* as = a.data<float>();
  const float* bs = b.data<float>();
  float* o = out.data<float>();
  apply_act(act, [&](auto f) {
    parallel_for(a.numel(), kGrain, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) o[i] = f(as[i]) * bs[i];
    });
  });
}

void soft_cap(Tensor& x, float cap) {
  constexpr const char* op = "soft_cap";
  check_activation_tensor(op, "x", x);
  HL_CHECK(cap > 0.0f && std::isfinite(cap), op, ": cap must be positive and finite, got ", cap);
  float* xs = x.data<float>();
  // As transformers: tanh(x / cap) * cap (a division, not a multiplication by 1 / cap).
  parallel_for(x.numel(), kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) xs[i] = std::tanh(xs[i] / cap) * cap;
  });
}

void add_inplace(Tensor& x, const Tensor& y) {
  constexpr const char* op = "add_inplace";
  check_activation_tensor(op, "x", x);
  check_activation_tensor(op, "y", y);
  check_same_shape(op, "x", x, "y", y);
  check_alias_exact_or_none(op, "x", x, "y", y);
  float* xs = x.data<float>();
  const float* ys = y.data<float>();
  parallel_for(x.numel(), int64_t(1) << 16, [&](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) xs[i] += ys[i];
  });
}

}  // namespace hl::cpu
