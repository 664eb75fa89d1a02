#pragma once
// Checkpoints with random weights in the real shapes, for benchmarks and tests without downloads.
#include <cstdint>
#include <string>

#include "hybridlens/core/dtype.hpp"

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

}  // namespace hl
