#pragma once
// Jamba hyper-parameters as config.json states them (ARCHITECTURES.md, transformers' JambaConfig).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hybridlens/model/model.hpp"
#include "hybridlens/model/weight_list.hpp"

namespace hl {

// How a checkpoint stores the experts of a MoE layer. Published checkpoints keep one tensor per expert
// (feed_forward.experts.{e}.{gate,up,down}_proj.weight); transformers 5 holds them fused in memory
// (feed_forward.experts.gate_up_proj [E, 2I, H], feed_forward.experts.down_proj [E, H, I]) and a
// checkpoint saved that way is read as it is.
enum class ExpertLayout { PerExpert, Fused };

struct JambaConfig {
  int hidden = 0, intermediate = 0, layers = 0, vocab = 0;
  int heads = 0, kv_heads = 0, head_dim = 0;
  int experts = 16, experts_per_token = 2;
  int expert_period = 2, expert_offset = 1;
  int attn_period = 8, attn_offset = 4;
  int d_state = 16, d_conv = 4, expand = 2, dt_rank = 0;
  bool conv_bias = true, proj_bias = false;
  float eps = 1e-6f;
  bool tie_embeddings = false;
  int bos = 1, eos = 2, pad = 0;

  int d_inner() const { return expand * hidden; }
  bool is_attention(int layer) const { return layer % attn_period == attn_offset; }
  // transformers gives a layer num_experts experts when layer % period == offset, and a dense MLP when
  // that number is 1.
  bool is_moe(int layer) const { return experts > 1 && layer % expert_period == expert_offset; }

  // Throws naming `path` and the key for missing or inconsistent values, including periods that are not
  // positive, offsets outside [0, period) and periods that do not divide num_hidden_layers.
  static JambaConfig from_json(const nlohmann::json& j, const std::string& path);
  nlohmann::json to_json() const;
  // "jamba-mini-1.6" (also "jamba-v0.1", "jamba-1.5-mini": the same shape, 52B parameters), "small"
  // (hidden 1024, 16 experts, 8 layers, one attention layer) or "tiny" (a test-sized model).
  static JambaConfig preset(const std::string& name);
  std::vector<WeightSpec> weight_specs(ExpertLayout layout = ExpertLayout::PerExpert) const;
  // What `hybridlens info` shows, computed from the config alone (parameters from the weight list).
  ModelInfo describe() const;
};

}  // namespace hl
