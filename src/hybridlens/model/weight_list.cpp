#include "hybridlens/model/weight_list.hpp"

#include "hybridlens/io/safetensors.hpp"

namespace hl {

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
