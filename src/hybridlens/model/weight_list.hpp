#pragma once
// One declarative list of an architecture's tensors (name and the shape config.json implies). The same
// list drives loading with shape checks, parameter counting and random checkpoints.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "hybridlens/backend/backend.hpp"
#include "hybridlens/core/tensor.hpp"

namespace hl {

class TensorStore;

struct WeightSpec {
  std::string name;
  Shape shape;
  bool optional = false;  // e.g. lm_head.weight when embeddings are tied
  enum class Init { Linear, Zero, One, Custom } init = Init::Linear;
  float lo = 0, hi = 0;   // Custom: uniform in [lo, hi]
};

// The uniform range a random weight is drawn from: Linear ±sqrt(3 / fan_in) (std 1/sqrt(fan_in), variance-
// preserving for x @ W^T), Zero, One, or the spec's own [lo, hi].
std::pair<float, float> random_range(const WeightSpec& spec);
// The generator stream of tensor `name` under `seed` (core/uniform_fill.hpp).
uint64_t random_stream(uint64_t seed, const std::string& name);

class Weights {
 public:
  // Checks every listed tensor against its expected shape before anything runs, then hands them to
  // the backend. Throws naming the checkpoint file and tensor on the first mismatch.
  static Weights load(const TensorStore& store, const std::vector<WeightSpec>& specs, Backend& backend);
  // Random weights made by the backend where they live (on a GPU: no host copy, no file), bit for bit the
  // values `hybridlens random-checkpoint` writes for the same seed and dtype. Optional tensors are left out.
  static Weights random(const std::vector<WeightSpec>& specs, Backend& backend, uint64_t seed, DType dtype);

  bool has(const std::string& name) const { return tensors_.count(name) > 0; }
  const Tensor& get(const std::string& name) const;
  int64_t parameters() const { return parameters_; }
  std::string dtype_summary() const;

 private:
  std::map<std::string, Tensor> tensors_;
  std::map<std::string, int64_t> dtype_counts_;
  int64_t parameters_ = 0;
};

}  // namespace hl
