#pragma once
// RecurrentGemma (Griffin) hyper-parameters as config.json states them (ARCHITECTURES.md).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hybridlens/model/weight_list.hpp"

namespace hl {

struct RecurrentGemmaConfig {
  int hidden = 0, intermediate = 0, layers = 0, vocab = 0;
  int heads = 0, kv_heads = 0, head_dim = 0, lru_width = 0, conv_width = 4;
  int64_t window = 2048;
  float soft_cap = 30.0f, eps = 1e-6f, partial_rotary = 0.5f, rope_theta = 10000.0f;
  std::vector<std::string> block_types{"recurrent", "recurrent", "attention"};
  bool tie_embeddings = true;
  int bos = 2, eos = 1, pad = 0;

  bool is_attention(int layer) const { return block_types[size_t(layer) % block_types.size()] == "attention"; }
  int rot_dims() const { return int(float(head_dim) * partial_rotary); }
  float embed_scale() const;  // sqrt(hidden) rounded to bfloat16, as the reference does

  static RecurrentGemmaConfig from_json(const nlohmann::json& j, const std::string& path);
  nlohmann::json to_json() const;
  // "2b", "9b" (the published shapes) or "tiny" (a test-sized model).
  static RecurrentGemmaConfig preset(const std::string& name);
  std::vector<WeightSpec> weight_specs() const;
};

}  // namespace hl
