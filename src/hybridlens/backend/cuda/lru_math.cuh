#pragma once
// The RG-LRU step's arithmetic, shared by the scan kernels (sequence.cu) and the fused decode block
// (gemv.cu's rglru_block_k), so that both compute the same bits.
#include "hybridlens/backend/cuda/device_math.cuh"

namespace hl::cuda {

// One RG-LRU step: the decay a (0 at a reset: the state restarts) and the input term b, h' = a h + b.
struct LruStep {
  float a, b;
};

// log of the decay a from the recurrent gate's pre-activation; sp = softplus(recurrent_param).
__device__ __forceinline__ float lru_log_decay(float gate_a_pre, float sp) {
  return (-8.0f * sigmoid_f(gate_a_pre)) * sp;
}

// The step of input x with gate pre-activations gxp (input gate) and gap (recurrent gate).
__device__ __forceinline__ LruStep lru_coeffs(float x, float gxp, float gap, float sp, bool reset) {
  const float log_a = lru_log_decay(gap, sp);
  const float xg = x * sigmoid_f(gxp);
  if (reset) return {0.0f, xg};
  return {expf(log_a), xg * sqrtf(-expm1f(log_a + log_a))};
}

}  // namespace hl::cuda
