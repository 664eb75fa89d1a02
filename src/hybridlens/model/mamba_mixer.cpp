#include "hybridlens/model/mamba_mixer.hpp"

namespace hl {

void append_mamba_mixer_specs(std::vector<WeightSpec>& specs, const std::string& p, const MambaMixerShape& s) {
  using I = WeightSpec::Init;
  const int64_t D = s.hidden, Din = s.d_inner, N = s.d_state, R = s.dt_rank;
  specs.push_back({p + "in_proj.weight", {2 * Din, D}});
  if (s.proj_bias) specs.push_back({p + "in_proj.bias", {2 * Din}, false, I::Zero});
  specs.push_back({p + "conv1d.weight", {Din, 1, s.d_conv}, false, I::Custom, -0.5f, 0.5f});
  if (s.conv_bias) specs.push_back({p + "conv1d.bias", {Din}, false, I::Custom, -0.1f, 0.1f});
  specs.push_back({p + "x_proj.weight", {R + 2 * N, Din}});
  specs.push_back({p + "dt_proj.weight", {Din, R}});
  // softplus^-1 of time steps in about [0.01, 0.1], as Mamba initializes them.
  specs.push_back({p + "dt_proj.bias", {Din}, false, I::Custom, -4.6f, -2.25f});
  // A = -exp(A_log) in about [-16, -1] (Mamba's S4D-real initialization is log(1..N)).
  specs.push_back({p + "A_log", {Din, N}, false, I::Custom, 0.0f, 2.8f});
  specs.push_back({p + "D", {Din}, false, I::Custom, 0.5f, 1.5f});
  specs.push_back({p + "out_proj.weight", {D, Din}});
  if (s.proj_bias) specs.push_back({p + "out_proj.bias", {D}, false, I::Zero});
  if (s.dt_bc_norms) {
    specs.push_back({p + "dt_layernorm.weight", {R}, false, I::One});
    specs.push_back({p + "b_layernorm.weight", {N}, false, I::One});
    specs.push_back({p + "c_layernorm.weight", {N}, false, I::One});
  }
}

MambaMixerWeights mamba_mixer_weights(const Weights& w, const std::string& p, const MambaMixerShape& s) {
  const int64_t Din = s.d_inner, N = s.d_state, R = s.dt_rank;
  MambaMixerWeights m;
  const Tensor& in = w.get(p + "in_proj.weight");
  m.in_x = in.rows(0, Din);
  m.in_z = in.rows(Din, 2 * Din);
  if (s.proj_bias) {
    const Tensor& b = w.get(p + "in_proj.bias");
    m.in_x_bias = b.rows(0, Din);
    m.in_z_bias = b.rows(Din, 2 * Din);
    m.out_b = w.get(p + "out_proj.bias");
  }
  m.conv_w = w.get(p + "conv1d.weight");
  if (s.conv_bias) m.conv_b = w.get(p + "conv1d.bias");
  const Tensor& xp = w.get(p + "x_proj.weight");
  m.xp_dt = xp.rows(0, R);
  m.xp_b = xp.rows(R, R + N);
  m.xp_c = xp.rows(R + N, R + 2 * N);
  if (s.dt_bc_norms) {
    m.dt_norm = w.get(p + "dt_layernorm.weight");
    m.b_norm = w.get(p + "b_layernorm.weight");
    m.c_norm = w.get(p + "c_layernorm.weight");
  }
  m.dt_w = w.get(p + "dt_proj.weight");
  m.dt_b = w.get(p + "dt_proj.bias");
  m.A_log = w.get(p + "A_log");
  m.D = w.get(p + "D");
  m.out_w = w.get(p + "out_proj.weight");
  return m;
}

LayerState new_mamba_layer_state(Backend& be, const MambaMixerShape& s) {
  LayerState l;
  l.conv = be.zeros(DType::F32, {s.d_conv - 1, s.d_inner});
  l.rec = be.zeros(DType::F32, {s.d_inner, s.d_state});
  return l;
}

void mamba_mixer(Backend& be, const MambaMixerWeights& w, const MambaMixerShape& s, float eps, const Tensor& h,
                 Tensor& out, std::span<LayerState* const> states) {
  const int64_t R = h.dim(0), Din = s.d_inner, N = s.d_state, DR = s.dt_rank;
  const int64_t B = int64_t(states.size()), T = B > 0 ? R / B : 0;
  HL_CHECK(B > 0 && T * B == R, "mamba_mixer: ", R, " rows do not split over ", B, " states");
  Tensor xs = be.empty(DType::F32, {R, Din});     // in_proj x half
  Tensor z = be.empty(DType::F32, {R, Din});      // in_proj gate half
  Tensor xc = be.empty(DType::F32, {R, Din});     // after the causal conv and SiLU
  Tensor dt = be.empty(DType::F32, {R, DR});
  Tensor bm = be.empty(DType::F32, {R, N});
  Tensor cm = be.empty(DType::F32, {R, N});
  const Backend::LinearPart in_proj[] = {{&xs, &w.in_x, &w.in_x_bias}, {&z, &w.in_z, &w.in_z_bias}};
  be.linear_parts(h, in_proj);
  for (int64_t b = 0; b < B; ++b) {
    Tensor xc_b = xc.rows(b * T, (b + 1) * T);
    be.conv1d_causal(xc_b, xs.rows(b * T, (b + 1) * T), w.conv_w, w.conv_b, states[size_t(b)]->conv);
  }
  be.activation(xc, xc, Activation::Silu);
  const Tensor none;
  be.linear(dt, xc, w.xp_dt, none);
  be.linear(bm, xc, w.xp_b, none);
  be.linear(cm, xc, w.xp_c, none);
  if (s.dt_bc_norms) {
    be.rms_norm(dt, dt, w.dt_norm, eps, false);
    be.rms_norm(bm, bm, w.b_norm, eps, false);
    be.rms_norm(cm, cm, w.c_norm, eps, false);
  }
  Tensor delta = xs;  // the x half is no longer needed: reuse it for the time steps
  be.linear(delta, dt, w.dt_w, w.dt_b);
  be.activation(delta, delta, Activation::Softplus);
  Tensor y = be.empty(DType::F32, {R, Din});
  for (int64_t b = 0; b < B; ++b) {
    const int64_t r0 = b * T, r1 = r0 + T;
    Tensor y_b = y.rows(r0, r1);
    be.selective_scan(y_b, xc.rows(r0, r1), delta.rows(r0, r1), w.A_log, bm.rows(r0, r1), cm.rows(r0, r1), w.D,
                      states[size_t(b)]->rec);
  }
  be.activation_mul(y, z, y, Activation::Silu);  // y * silu(z)
  be.linear(out, y, w.out_w, w.out_b);
}

int read_dt_rank(const ConfigReader& r, const std::string& key, int hidden) {
  if (!r.has(key)) return (hidden + 15) / 16;
  const auto& v = r.json().at(key);
  if (v.is_string()) {
    if (v.get<std::string>() != "auto") r.bad(key, "must be a positive integer or \"auto\", got " + v.dump());
    return (hidden + 15) / 16;
  }
  return int(r.positive(key));
}

int read_token_id(const ConfigReader& r, const std::string& key, int fallback) {
  if (!r.has(key)) return fallback;
  const auto& v = r.json().at(key);
  if (v.is_array()) {
    if (v.empty() || !v[0].is_number_integer()) r.bad(key, "must be an integer or a list of integers, got " + v.dump());
    return v[0].get<int>();
  }
  return int(r.integer(key));
}

void require_silu(const ConfigReader& r, const std::string& key) {
  const std::string act = r.string(key, "silu");
  if (act != "silu" && act != "swish") r.bad(key, "must be \"silu\" (the only activation supported), got \"" + act + "\"");
}

}  // namespace hl
