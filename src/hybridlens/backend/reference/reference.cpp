#include "hybridlens/backend/reference/reference.hpp"

#include <cmath>

#include "hybridlens/core/dtype.hpp"
#include "hybridlens/core/error.hpp"

namespace hl::ref {
namespace {

void need(bool ok, const char* op, const char* what) { HL_CHECK(ok, "ref::", op, ": ", what); }

}  // namespace

double weight_value(const Tensor& w, int64_t i) {
  switch (w.dtype()) {
    case DType::F32: return w.data<float>()[i];
    case DType::BF16: return bf16_to_f32(w.data<uint16_t>()[i]);
    case DType::F16: return f16_to_f32(w.data<uint16_t>()[i]);
    default: fail("ref: weight ", w.describe(), " is not F32, BF16 or F16");
  }
}

double gelu_tanh(double x) {
  const double k = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
}
double silu(double x) { return x / (1.0 + std::exp(-x)); }
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double softplus(double x) { return x > 20.0 ? x : std::log1p(std::exp(x)); }
double activate(double x, Activation act) {
  switch (act) {
    case Activation::GeluTanh: return gelu_tanh(x);
    case Activation::Silu: return silu(x);
    case Activation::Softplus: return softplus(x);
  }
  fail("ref: unknown activation");
}

void embed(Tensor& out, const Tensor& table, const std::vector<int32_t>& ids, float scale) {
  const int64_t V = table.dim(0), D = table.dim(1);
  need(out.dim(0) == int64_t(ids.size()) && out.dim(1) == D, "embed", "out shape");
  float* o = out.data<float>();
  for (size_t t = 0; t < ids.size(); ++t) {
    need(ids[t] >= 0 && ids[t] < V, "embed", "id out of range");
    for (int64_t d = 0; d < D; ++d) o[int64_t(t) * D + d] = float(weight_value(table, ids[t] * D + d) * scale);
  }
}

void rms_norm(Tensor& out, const Tensor& x, const Tensor& w, float eps, bool one_plus_weight) {
  const int64_t T = x.dim(0), C = x.dim(1);
  need(w.numel() == C && out.shape() == x.shape(), "rms_norm", "shapes");
  const float* xs = x.data<float>();
  float* o = out.data<float>();
  for (int64_t t = 0; t < T; ++t) {
    double ss = 0;
    for (int64_t c = 0; c < C; ++c) ss += double(xs[t * C + c]) * xs[t * C + c];
    const double inv = 1.0 / std::sqrt(ss / double(C) + double(eps));
    std::vector<double> row(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) {
      const float s = one_plus_weight ? 1.0f + float(weight_value(w, c)) : float(weight_value(w, c));
      row[size_t(c)] = double(xs[t * C + c]) * inv * double(s);
    }
    for (int64_t c = 0; c < C; ++c) o[t * C + c] = float(row[size_t(c)]);  // out may alias x
  }
}

void linear(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias) {
  const int64_t T = x.dim(0), K = x.dim(1), N = w.dim(0);
  need(w.dim(1) == K && out.dim(0) == T && out.dim(1) == N, "linear", "shapes");
  const float* xs = x.data<float>();
  float* o = out.data<float>();
  for (int64_t t = 0; t < T; ++t)
    for (int64_t n = 0; n < N; ++n) {
      double s = bias.defined() ? weight_value(bias, n) : 0.0;
      for (int64_t k = 0; k < K; ++k) s += double(xs[t * K + k]) * weight_value(w, n * K + k);
      o[t * N + n] = float(s);
    }
}

void block_diag_linear(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& b) {
  const int64_t T = x.dim(0), C = x.dim(1), H = w.dim(0), bw = w.dim(1);
  need(w.dim(2) == bw && H * bw == C && out.shape() == x.shape(), "block_diag_linear", "shapes");
  const float* xs = x.data<float>();
  float* o = out.data<float>();
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t j = 0; j < bw; ++j) {
        double s = b.defined() ? weight_value(b, h * bw + j) : 0.0;
        for (int64_t i = 0; i < bw; ++i) s += double(xs[t * C + h * bw + i]) * weight_value(w, (h * bw + i) * bw + j);
        o[t * C + h * bw + j] = float(s);
      }
}

void add_inplace(Tensor& x, const Tensor& y) {
  need(x.shape() == y.shape(), "add_inplace", "shapes");
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = float(double(x.data<float>()[i]) + y.data<float>()[i]);
}

void activation(Tensor& out, const Tensor& x, Activation act) {
  need(out.shape() == x.shape(), "activation", "shapes");
  for (int64_t i = 0; i < x.numel(); ++i) out.data<float>()[i] = float(activate(x.data<float>()[i], act));
}

void activation_mul(Tensor& out, const Tensor& a, const Tensor& b, Activation act) {
  need(out.shape() == a.shape() && a.shape() == b.shape(), "activation_mul", "shapes");
  for (int64_t i = 0; i < a.numel(); ++i)
    out.data<float>()[i] = float(activate(a.data<float>()[i], act) * double(b.data<float>()[i]));
}

void soft_cap(Tensor& x, float cap) {
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = float(cap * std::tanh(double(x.data<float>()[i]) / cap));
}

void conv1d_causal(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& state) {
  const int64_t T = x.dim(0), C = x.dim(1), W = w.dim(-1);
  need(w.dim(0) == C && state.dim(0) == W - 1 && state.dim(1) == C, "conv1d_causal", "shapes");
  // in = [state; x], rows of C
  std::vector<float> in(static_cast<size_t>((W - 1 + T) * C));
  for (int64_t i = 0; i < (W - 1) * C; ++i) in[size_t(i)] = state.data<float>()[i];
  for (int64_t i = 0; i < T * C; ++i) in[size_t((W - 1) * C + i)] = x.data<float>()[i];
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = 0; c < C; ++c) {
      double s = bias.defined() ? weight_value(bias, c) : 0.0;
      for (int64_t j = 0; j < W; ++j) s += weight_value(w, c * W + j) * double(in[size_t((t + j) * C + c)]);
      out.data<float>()[t * C + c] = float(s);
    }
  for (int64_t i = 0; i < (W - 1) * C; ++i) state.data<float>()[i] = in[size_t(T * C + i)];
}

void rglru_scan(Tensor& out, const Tensor& x, const Tensor& gate_x_pre, const Tensor& gate_a_pre,
                const Tensor& recurrent_param, const std::vector<int64_t>& positions, Tensor& h) {
  const int64_t T = x.dim(0), C = x.dim(1);
  need(int64_t(positions.size()) == T && h.numel() == C && recurrent_param.numel() == C, "rglru_scan", "shapes");
  for (int64_t c = 0; c < C; ++c) {
    double hc = h.data<float>()[c];
    const double sp = softplus(weight_value(recurrent_param, c));
    for (int64_t t = 0; t < T; ++t) {
      const int64_t i = t * C + c;
      const double gx = sigmoid(gate_x_pre.data<float>()[i]);
      const double ga = sigmoid(gate_a_pre.data<float>()[i]);
      const double log_a = -8.0 * ga * sp;
      const double a = std::exp(log_a);
      const bool reset = positions[size_t(t)] == 0;
      const double mult = reset ? 1.0 : std::sqrt(-std::expm1(2.0 * log_a));
      hc = (reset ? 0.0 : a * hc) + mult * gx * double(x.data<float>()[i]);
      out.data<float>()[i] = float(hc);
    }
    h.data<float>()[c] = float(hc);
  }
}

void rotary(Tensor& x, int heads, int head_dim, int rot_dims, float theta, int64_t first_pos) {
  const int64_t T = x.dim(0);
  need(x.dim(1) == int64_t(heads) * head_dim && rot_dims % 2 == 0 && rot_dims <= head_dim, "rotary", "shapes");
  const int half = rot_dims / 2;
  float* xs = x.data<float>();
  for (int64_t t = 0; t < T; ++t)
    for (int h = 0; h < heads; ++h) {
      float* v = xs + t * heads * head_dim + h * head_dim;
      std::vector<double> r(static_cast<size_t>(rot_dims));
      for (int i = 0; i < rot_dims; ++i) {
        const int f = i % half;
        const float inv_freq = 1.0f / std::pow(theta, float(2 * f) / float(rot_dims));  // fp32, as torch
        const float angle = float(first_pos + t) * inv_freq;                             // fp32, as torch
        const double c = std::cos(double(angle)), s = std::sin(double(angle));
        r[size_t(i)] = i < half ? double(v[i]) * c - double(v[i + half]) * s : double(v[i]) * c + double(v[i - half]) * s;
      }
      for (int i = 0; i < rot_dims; ++i) v[i] = float(r[size_t(i)]);
    }
}

}  // namespace hl::ref
