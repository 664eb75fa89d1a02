#pragma once
// Mamba-1 hyper-parameters as config.json states them (ARCHITECTURES.md, transformers' MambaConfig).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hybridlens/model/model.hpp"
#include "hybridlens/model/weight_list.hpp"

namespace hl {

struct MambaConfig {
  int hidden = 0, layers = 0, vocab = 0;
  int d_state = 16, expand = 2, d_conv = 4, dt_rank = 0;
  int d_inner = 0;  // intermediate_size, expand * hidden
  bool use_bias = false, use_conv_bias = true;
  float eps = 1e-5f;
  bool tie_embeddings = true;
  int bos = 0, eos = 0, pad = 0;

  static MambaConfig from_json(const nlohmann::json& j, const std::string& path);
  nlohmann::json to_json() const;
  // "130m", "370m", "790m", "1.4b", "2.8b" (state-spaces/mamba-*-hf shapes) or "tiny" (test-sized).
  static MambaConfig preset(const std::string& name);
  std::vector<WeightSpec> weight_specs() const;
  // What `hybridlens info` shows, computed from the config alone.
  ModelInfo describe() const;
};

}  // namespace hl
