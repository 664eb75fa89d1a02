#pragma once
// Writes a safetensors file one tensor at a time, so checkpoints larger than memory can be produced
// (random 9B-shaped weights, say). Written to PATH.tmp and renamed at the end.
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "hybridlens/core/tensor.hpp"

namespace hl {

struct PlannedTensor {
  std::string name;
  DType dtype;
  Shape shape;
};

// fill(i, dst) writes the bytes of tensors[i] (numel * dtype size) into dst. If anything throws (fill
// included), the temporary file is removed and PATH is left as it was.
void write_safetensors_streamed(const std::string& path, const std::vector<PlannedTensor>& tensors,
                                const std::function<void(size_t, void*)>& fill,
                                const std::map<std::string, std::string>& metadata = {});

}  // namespace hl
