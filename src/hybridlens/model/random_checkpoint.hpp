#pragma once
// Checkpoints with random weights in the real shapes, for benchmarks and tests without downloads.
#include <cstdint>
#include <string>

#include "hybridlens/core/dtype.hpp"
#include "hybridlens/model/model.hpp"

namespace hl {

struct RandomCheckpointOptions {
  std::string arch = "recurrent_gemma";
  std::string preset = "tiny";
  std::string out_dir;
  DType dtype = DType::BF16;
  uint64_t seed = 0;
  std::string tokenizer;  // a tokenizer.model to copy in, optional
};

// Writes config.json and model.safetensors (streamed, so larger-than-memory shapes work). Returns the
// parameter count.
int64_t write_random_checkpoint(const RandomCheckpointOptions& opt);

// The description `hybridlens info` gives of a preset shape, computed from its config and weight list
// without any weights (so a 52B Jamba can be described on any machine). Weight dtype reads "none".
ModelInfo describe_preset(const std::string& arch, const std::string& preset);

}  // namespace hl
