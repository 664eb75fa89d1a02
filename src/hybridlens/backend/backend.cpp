#include "hybridlens/backend/backend.hpp"

#include <vector>

#include "hybridlens/core/argmax.hpp"

namespace hl {

void Backend::argmax_rows(const Tensor& x, int32_t* out) {
  HL_CHECK(x.defined() && x.dtype() == DType::F32 && x.ndim() == 2, "argmax_rows: x must be a 2-D F32 tensor, got ",
           x.defined() ? x.describe() : std::string("undefined"));
  const int64_t R = x.dim(0), N = x.dim(1);
  std::vector<float> rows(size_t(R * N));
  to_host(x, rows.data());
  for (int64_t r = 0; r < R; ++r) out[r] = argmax(rows.data() + r * N, N);
}

void Backend::rotary_qk(Tensor& q, int q_heads, Tensor& k, int k_heads, int head_dim, int rot_dims, float theta,
                        int64_t first_pos) {
  rotary(q, q_heads, head_dim, rot_dims, theta, first_pos);
  rotary(k, k_heads, head_dim, rot_dims, theta, first_pos);
}

void Backend::gated_linear(Tensor& out, const Tensor& x, const Tensor& w_gate, const Tensor& b_gate,
                           const Tensor& w_up, const Tensor& b_up, Activation act) {
  Tensor up = empty(DType::F32, out.shape());
  linear(out, x, w_gate, b_gate);
  linear(up, x, w_up, b_up);
  activation_mul(out, out, up, act);
}

void Backend::rglru_block(Tensor& out, const Tensor& y, const Tensor& x, const Tensor& w_x, const Tensor& b_x,
                          const Tensor& w_a, const Tensor& b_a, const Tensor& recurrent_param,
                          std::span<const LruState> states, Activation act) {
  HL_CHECK(x.defined() && x.ndim() == 2, "rglru_block: x must be a 2-D tensor");
  const int64_t R = x.dim(0), B = int64_t(states.size());
  HL_CHECK(B > 0 && R % B == 0, "rglru_block: ", R, " rows cannot be split over ", B, " states");
  const int64_t T = R / B;
  Tensor gx = empty(DType::F32, x.shape()), ga = empty(DType::F32, x.shape());
  const LinearPart gates[] = {{&gx, &w_x, &b_x}, {&ga, &w_a, &b_a}};
  block_diag_parts(x, gates);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t r0 = b * T, r1 = r0 + T;
    std::vector<int64_t> positions(static_cast<size_t>(T));
    for (int64_t t = 0; t < T; ++t) positions[size_t(t)] = states[size_t(b)].first_pos + t;
    Tensor out_b = out.rows(r0, r1);
    rglru_scan(out_b, x.rows(r0, r1), gx.rows(r0, r1), ga.rows(r0, r1), recurrent_param, positions,
               *states[size_t(b)].h);
  }
  activation_mul(out, y, out, act);
}

void Backend::linear_parts(const Tensor& x, std::span<const LinearPart> parts) {
  for (const LinearPart& p : parts) linear(*p.out, x, *p.w, *p.bias);
}

void Backend::block_diag_parts(const Tensor& x, std::span<const LinearPart> parts) {
  for (const LinearPart& p : parts) block_diag_linear(*p.out, x, *p.w, *p.bias);
}

void Backend::add_rms_norm(Tensor& x, const Tensor& t, Tensor& h, const Tensor& w, float eps, bool one_plus_weight) {
  add_inplace(x, t);
  rms_norm(h, x, w, eps, one_plus_weight);
}

void Backend::gated_mlp(Tensor& out, const Tensor& x, const Tensor& w_gate, const Tensor& b_gate, const Tensor& w_up,
                        const Tensor& b_up, const Tensor& w_down, const Tensor& b_down, Activation act) {
  HL_CHECK(x.defined() && x.ndim() == 2 && w_gate.defined() && w_gate.ndim() == 2,
           "gated_mlp: x and w_gate must be matrices, got ", x.describe(), " and ", w_gate.describe());
  Tensor mid = empty(DType::F32, {x.dim(0), w_gate.dim(0)});
  gated_linear(mid, x, w_gate, b_gate, w_up, b_up, act);
  linear(out, mid, w_down, b_down);
}

}  // namespace hl
