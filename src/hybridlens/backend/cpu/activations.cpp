// activation, activation_mul, soft_cap, add_inplace: elementwise over F32 tensors, split over threads.
// gelu_tanh and silu have AVX-512 versions (vec_math_avx512.hpp); the scalar versions (scalar_math.hpp)
// follow PyTorch's formulas literally and serve the portable path.
#include <cmath>

#include "hybridlens/backend/cpu/checks.hpp"
#include "hybridlens/backend/cpu/isa.hpp"
#include "hybridlens/backend/cpu/vec_math_avx512.hpp"
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

// AVX-512 versions of gelu_tanh and silu (vec_math_avx512.hpp): out[i] = act(a[i]) (* b[i] when b is set).
template <Activation A>
HL_AVX512 void act_avx512(float* out, const float* a, const float* b, int64_t n) {
  auto f = [](__m512 v) HL_AVX512 { return A == Activation::GeluTanh ? avx512::gelu_tanh_ps(v) : avx512::silu_ps(v); };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 r = f(_mm512_loadu_ps(a + i));
    if (b) r = _mm512_mul_ps(r, _mm512_loadu_ps(b + i));
    _mm512_storeu_ps(out + i, r);
  }
  if (i < n) {
    const __mmask16 m = avx512::tail_mask(n - i);
    __m512 r = f(_mm512_maskz_loadu_ps(m, a + i));
    if (b) r = _mm512_mul_ps(r, _mm512_maskz_loadu_ps(m, b + i));
    _mm512_mask_storeu_ps(out + i, m, r);
  }
}

HL_AVX512 void soft_cap_avx512(float* x, int64_t n, float cap) {
  const __m512 c = _mm512_set1_ps(cap);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = avx512::tail_mask(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(avx512::tanh_ps(_mm512_div_ps(v, c)), c));
  }
}

// True when the AVX-512 kernel ran.
bool act_vectorized(Activation act, float* out, const float* a, const float* b, int64_t n) {
  if (active_isa() != Isa::Avx512) return false;
  if (act == Activation::GeluTanh) {
    parallel_for(n, kGrain, [&](int64_t s, int64_t e) {
      act_avx512<Activation::GeluTanh>(out + s, a + s, b ? b + s : nullptr, e - s);
    });
    return true;
  }
  if (act == Activation::Silu) {
    parallel_for(n, kGrain, [&](int64_t s, int64_t e) {
      act_avx512<Activation::Silu>(out + s, a + s, b ? b + s : nullptr, e - s);
    });
    return true;
  }
  return false;
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
  if (act_vectorized(act, o, xs, nullptr, x.numel())) return;
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
  if (act_vectorized(act, o, as, bs, a.numel())) return;
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
  if (active_isa() == Isa::Avx512) {
    parallel_for(x.numel(), kGrain, [&](int64_t b, int64_t e) { soft_cap_avx512(xs + b, e - b, cap); });
    return;
  }
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
