#pragma once
// Helpers for the CUDA backend tests: the backend (or a visible skip when there is no device), copies
// between host and device, and a comparison against the CPU result with a per-element bound that prints
// the worst error of each case (for the summary of scripts/gpu-test.sh).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "hybridlens/backend/make_backend.hpp"
#include "hybridlens/core/tensor.hpp"

namespace hl::test {

// The CUDA backend on device 0, or null with `why` saying what is missing.
inline std::unique_ptr<Backend> cuda_backend_or_null(std::string* why, bool precise = false) {
  if (cuda_device_count(why) == 0) return nullptr;
  return make_cuda_backend(0, precise);
}

#define HL_CUDA_BACKEND_OR_SKIP(var, precise)                                  \
  std::string var##_why;                                                      \
  std::unique_ptr<::hl::Backend> var = ::hl::test::cuda_backend_or_null(&var##_why, precise); \
  if (!var) GTEST_SKIP() << "no CUDA device: " << var##_why

// A device copy of a host tensor (any dtype).
inline Tensor on_device(Backend& be, const Tensor& host) { return be.upload(host); }

// A host F32 copy of a device F32 tensor.
inline Tensor on_host(Backend& be, const Tensor& dev) {
  Tensor h = Tensor::zeros(DType::F32, dev.shape());
  be.to_host(dev, h.data<float>());
  return h;
}

// |got - want| <= bound(i) for every element; prints "[ cuda op  ] what: max abs error E (worst error / bound R)".
inline ::testing::AssertionResult gpu_close(const Tensor& got, const Tensor& want,
                                            const std::function<double(int64_t)>& bound, const std::string& what) {
  if (got.shape() != want.shape())
    return ::testing::AssertionFailure() << what << ": shape " << got.describe() << " vs " << want.describe();
  const float* g = got.data<float>();
  const float* w = want.data<float>();
  double worst = 0, ratio = 0;
  int64_t bad = 0, first_bad = -1;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double err = std::fabs(double(g[i]) - double(w[i]));
    const double b = bound(i);
    const bool ok = err <= b || g[i] == w[i] || (std::isnan(g[i]) && std::isnan(w[i]));
    worst = std::max(worst, std::isnan(err) ? INFINITY : err);
    if (b > 0) ratio = std::max(ratio, err / b);
    if (!ok && bad++ == 0) first_bad = i;
  }
  std::printf("[ cuda op  ] %s: max abs error %.3g (worst error / bound %.3g)\n", what.c_str(), worst, ratio);
  if (bad)
    return ::testing::AssertionFailure() << what << ": " << bad << " of " << got.numel()
                                         << " elements outside the bound; first [" << first_bad << "] got "
                                         << g[first_bad] << " want " << w[first_bad] << " bound " << bound(first_bad);
  return ::testing::AssertionSuccess();
}

}  // namespace hl::test
