#pragma once
// Scalar activation functions written as the PyTorch CPU kernels compute them in fp32, so results
// match the Hugging Face reference to within an ulp or two.
#include <cmath>

namespace hl::cpu {

// torch.nn.functional.gelu(x, approximate="tanh"): 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))).
inline float gelu_tanh(float x) {
  constexpr float kBeta = 0.7978845608028654f;  // sqrt(2 / pi)
  constexpr float kKappa = 0.044715f;
  const float inner = kBeta * (x + kKappa * (x * x * x));
  return 0.5f * x * (1.0f + std::tanh(inner));
}

// torch.nn.functional.silu: x / (1 + exp(-x)).
inline float silu(float x) { return x / (1.0f + std::exp(-x)); }

// torch.sigmoid: 1 / (1 + exp(-x)).
inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// torch.nn.functional.softplus with beta 1, threshold 20: x above the threshold, else log1p(exp(x)).
inline float softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }

}  // namespace hl::cpu
