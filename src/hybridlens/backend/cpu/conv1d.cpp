// conv1d_causal: depthwise causal convolution over time with a carried state of the last width-1 inputs.
// Output rows are independent given the inputs, so threads split the rows; the state update is serial.
#include <algorithm>
#include <cstring>
#include <vector>

#include "hybridlens/backend/cpu/checks.hpp"
#include "hybridlens/backend/cpu/ops.hpp"
#include "hybridlens/backend/cpu/weights.hpp"
#include "hybridlens/backend/op_checks.hpp"
#include "hybridlens/core/parallel.hpp"

namespace hl::cpu {

void conv1d_causal(Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& state) {
  constexpr const char* op = "conv1d_causal";
  checks::check_conv1d_causal_args(DeviceKind::CPU, out, x, w, bias, state);
  const int64_t T = x.dim(0), C = x.dim(1), width = w.dim(-1);
  if (bias.defined()) check_no_alias(op, "out", out, "bias", bias);
  if (T == 0 || C == 0) return;

  // Taps transposed to [width, C] fp32 so the inner loop runs over contiguous channels.
  std::vector<float> taps(size_t(width * C));
  {
    std::vector<float> wf(size_t(width * C));
    weights_to_f32(wf.data(), w);
    for (int64_t c = 0; c < C; ++c)
      for (int64_t j = 0; j < width; ++j) taps[size_t(j * C + c)] = wf[size_t(c * width + j)];
  }
  const float* xs = x.data<float>();
  const float* st = state.data<float>();
  std::vector<float> bias_f32;
  const float* b = bias.defined() ? weights_as_f32(bias, bias_f32) : nullptr;
  float* o = out.data<float>();
  const int64_t hist = width - 1;

  parallel_for(T, std::max<int64_t>(1, 32768 / (C * width)), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      float* dst = o + t * C;
      std::fill(dst, dst + C, 0.0f);
      for (int64_t j = 0; j < width; ++j) {
        const int64_t src_t = t - hist + j;  // < 0: from the state, whose row hist + src_t holds it
        const float* src = src_t >= 0 ? xs + src_t * C : st + (hist + src_t) * C;
        const float* tap = taps.data() + j * C;
        for (int64_t c = 0; c < C; ++c) dst[c] += tap[c] * src[c];
      }
      if (b)
        for (int64_t c = 0; c < C; ++c) dst[c] += b[c];
    }
  });

  // New state: the last `hist` rows of [state; x].
  if (hist == 0) return;
  float* sd = state.data<float>();
  if (T >= hist) {
    std::memcpy(sd, xs + (T - hist) * C, size_t(hist * C) * sizeof(float));
  } else {
    std::memmove(sd, sd + T * C, size_t((hist - T) * C) * sizeof(float));
    std::memcpy(sd + (hist - T) * C, xs, size_t(T * C) * sizeof(float));
  }
}

}  // namespace hl::cpu
