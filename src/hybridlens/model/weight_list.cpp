#include "hybridlens/model/weight_list.hpp"

#include <cmath>
#include <functional>

#include "hybridlens/core/uniform_fill.hpp"
#include "hybridlens/io/safetensors.hpp"

namespace hl {

std::pair<float, float> random_range(const WeightSpec& s) {
  switch (s.init) {
    case WeightSpec::Init::Linear: {
      const float a = std::sqrt(3.0f / float(s.shape.back()));
      return {-a, a};
    }
    case WeightSpec::Init::Zero: return {0.0f, 0.0f};
    case WeightSpec::Init::One: return {1.0f, 1.0f};
    default: return {s.lo, s.hi};
  }
}

uint64_t random_stream(uint64_t seed, const std::string& name) {
  return splitmix64(seed ^ std::hash<std::string>{}(name));
}

Weights Weights::random(const std::vector<WeightSpec>& specs, Backend& backend, uint64_t seed, DType dtype) {
  Weights w;
  for (const WeightSpec& s : specs) {
    if (s.optional) continue;
    Tensor t = backend.zeros(dtype, s.shape);
    const auto [lo, hi] = random_range(s);
    backend.fill_uniform(t, lo, hi, random_stream(seed, s.name));
    w.parameters_ += t.numel();
    w.dtype_counts_[dtype_name(dtype)] += t.numel();
    w.tensors_[s.name] = std::move(t);
  }
  return w;
}

Weights Weights::load(const TensorStore& store, const std::vector<WeightSpec>& specs, Backend& backend) {
  Weights w;
  for (const WeightSpec& s : specs) {
    if (!store.has(s.name)) {
      HL_CHECK(s.optional, "checkpoint is missing tensor ", s.name, " (expected shape ", shape_str(s.shape), ")");
      continue;
    }
    const Tensor host = store.get(s.name, s.shape);
    HL_CHECK(host.dtype() == DType::F32 || host.dtype() == DType::BF16 || host.dtype() == DType::F16,
             store.file_of(s.name), ": tensor ", s.name, " has dtype ", dtype_name(host.dtype()),
             "; weights must be F32, BF16 or F16");
    w.tensors_[s.name] = backend.upload(host);
    w.parameters_ += host.numel();
    w.dtype_counts_[dtype_name(host.dtype())] += host.numel();
  }
  return w;
}

const Tensor& Weights::get(const std::string& name) const {
  auto it = tensors_.find(name);
  HL_CHECK(it != tensors_.end(), "weight ", name, " was not loaded");
  return it->second;
}

std::string Weights::dtype_summary() const {
  if (dtype_counts_.size() == 1) return dtype_counts_.begin()->first;
  std::string s = "mixed (";
  bool first = true;
  for (const auto& [name, n] : dtype_counts_) {
    s += (first ? "" : ", ") + name + ": " + std::to_string(n);
    first = false;
  }
  return s + ")";
}

}  // namespace hl
