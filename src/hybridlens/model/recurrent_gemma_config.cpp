#include "hybridlens/model/recurrent_gemma_config.hpp"

#include <cmath>

#include "hybridlens/core/dtype.hpp"
#include "hybridlens/core/error.hpp"
#include "hybridlens/model/config_json.hpp"

namespace hl {

float RecurrentGemmaConfig::embed_scale() const { return round_to_bf16(std::sqrt(float(hidden))); }

RecurrentGemmaConfig RecurrentGemmaConfig::from_json(const nlohmann::json& j, const std::string& path) {
  const ConfigReader r(j, path);
  RecurrentGemmaConfig c;
  c.hidden = int(r.positive("hidden_size"));
  c.intermediate = int(r.positive("intermediate_size"));
  c.layers = int(r.positive("num_hidden_layers"));
  c.vocab = int(r.positive("vocab_size"));
  c.heads = int(r.positive("num_attention_heads"));
  c.kv_heads = int(r.positive("num_key_value_heads", c.heads));
  c.head_dim = int(r.positive("head_dim", c.hidden / c.heads));
  c.lru_width = int(r.positive("lru_width", c.hidden));
  c.conv_width = int(r.positive("conv1d_width", 4));
  c.window = r.positive("attention_window_size", 2048);
  c.soft_cap = float(r.number("logits_soft_cap", 30.0));
  c.eps = float(r.number("rms_norm_eps", 1e-6));
  c.tie_embeddings = r.boolean("tie_word_embeddings", true);
  c.bos = int(r.integer("bos_token_id", 2));
  c.eos = int(r.integer("eos_token_id", 1));
  c.pad = int(r.integer("pad_token_id", 0));
  // Rope settings sit at the top level in older files and inside "rope_parameters" in newer ones.
  c.partial_rotary = float(r.number("partial_rotary_factor", 0.5));
  c.rope_theta = float(r.number("rope_theta", 10000.0));
  if (r.has("rope_parameters")) {
    const ConfigReader rp(j.at("rope_parameters"), path + " rope_parameters");
    c.partial_rotary = float(rp.number("partial_rotary_factor", c.partial_rotary));
    c.rope_theta = float(rp.number("rope_theta", c.rope_theta));
  }
  const char* key = r.has("block_types") ? "block_types" : r.has("_block_types") ? "_block_types" : nullptr;
  if (key) {
    const auto& bt = j.at(key);
    if (!bt.is_array() || bt.empty()) r.bad(key, "must be a non-empty list");
    c.block_types.clear();
    for (const auto& b : bt) {
      if (!b.is_string() || (b != "recurrent" && b != "attention"))
        r.bad(key, "entries must be \"recurrent\" or \"attention\", got " + b.dump());
      c.block_types.push_back(b.get<std::string>());
    }
  }
  if (c.hidden % c.heads != 0 && !r.has("head_dim")) r.bad("hidden_size", "must be divisible by num_attention_heads");
  if (c.heads % c.kv_heads != 0) r.bad("num_key_value_heads", "must divide num_attention_heads");
  if (c.lru_width % c.heads != 0) r.bad("lru_width", "must be divisible by num_attention_heads (RG-LRU blocks)");
  if (c.intermediate % 2 != 0) r.bad("intermediate_size", "must be even (the MLP is intermediate_size / 2 wide)");
  if (c.rot_dims() % 2 != 0 || c.rot_dims() > c.head_dim) r.bad("partial_rotary_factor", "gives an odd or oversized rotary width");
  if (c.conv_width < 1) r.bad("conv1d_width", "must be at least 1");
  return c;
}

nlohmann::json RecurrentGemmaConfig::to_json() const {
  return {{"architectures", {"RecurrentGemmaForCausalLM"}},
          {"model_type", "recurrent_gemma"},
          {"hidden_size", hidden},
          {"intermediate_size", intermediate},
          {"num_hidden_layers", layers},
          {"vocab_size", vocab},
          {"num_attention_heads", heads},
          {"num_key_value_heads", kv_heads},
          {"head_dim", head_dim},
          {"lru_width", lru_width},
          {"conv1d_width", conv_width},
          {"attention_window_size", window},
          {"logits_soft_cap", soft_cap},
          {"rms_norm_eps", eps},
          {"hidden_activation", "gelu_pytorch_tanh"},
          {"rope_parameters", {{"rope_type", "default"}, {"rope_theta", rope_theta}, {"partial_rotary_factor", partial_rotary}}},
          {"block_types", block_types},
          {"tie_word_embeddings", tie_embeddings},
          {"bos_token_id", bos},
          {"eos_token_id", eos},
          {"pad_token_id", pad},
          {"embeddings_scale_by_sqrt_dim", true}};
}

RecurrentGemmaConfig RecurrentGemmaConfig::preset(const std::string& name) {
  RecurrentGemmaConfig c;
  if (name == "2b") {
    c.hidden = 2560; c.intermediate = 15360; c.layers = 26; c.vocab = 256000;
    c.heads = 10; c.kv_heads = 1; c.lru_width = 2560;
  } else if (name == "9b") {
    c.hidden = 4096; c.intermediate = 24576; c.layers = 38; c.vocab = 256000;
    c.heads = 16; c.kv_heads = 1; c.lru_width = 4096;
  } else if (name == "tiny") {
    c.hidden = 64; c.intermediate = 192; c.layers = 6; c.vocab = 512;
    c.heads = 4; c.kv_heads = 1; c.lru_width = 64; c.window = 16;
  } else {
    fail("unknown recurrent_gemma preset \"", name, "\" (known: 2b, 9b, tiny)");
  }
  c.head_dim = c.hidden / c.heads;
  return c;
}

std::vector<WeightSpec> RecurrentGemmaConfig::weight_specs() const {
  using I = WeightSpec::Init;
  const int64_t D = hidden, M = intermediate / 2, L = lru_width, V = vocab, bw = lru_width / heads;
  std::vector<WeightSpec> s;
  s.push_back({"model.embed_tokens.weight", {V, D}, false, I::Custom, -0.05f, 0.05f});
  for (int i = 0; i < layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    s.push_back({p + "temporal_pre_norm.weight", {D}, false, I::Zero});
    s.push_back({p + "channel_pre_norm.weight", {D}, false, I::Zero});
    if (is_attention(i)) {
      s.push_back({p + "temporal_block.q_proj.weight", {int64_t(heads) * head_dim, D}});
      s.push_back({p + "temporal_block.k_proj.weight", {int64_t(kv_heads) * head_dim, D}});
      s.push_back({p + "temporal_block.v_proj.weight", {int64_t(kv_heads) * head_dim, D}});
      s.push_back({p + "temporal_block.o_proj.weight", {D, int64_t(heads) * head_dim}});
      s.push_back({p + "temporal_block.o_proj.bias", {D}, false, I::Zero});
    } else {
      const std::string t = p + "temporal_block.";
      s.push_back({t + "linear_y.weight", {L, D}});
      s.push_back({t + "linear_y.bias", {L}, false, I::Zero});
      s.push_back({t + "linear_x.weight", {L, D}});
      s.push_back({t + "linear_x.bias", {L}, false, I::Zero});
      s.push_back({t + "linear_out.weight", {D, L}});
      s.push_back({t + "linear_out.bias", {D}, false, I::Zero});
      s.push_back({t + "conv_1d.weight", {L, 1, conv_width}, false, I::Custom, -0.5f, 0.5f});
      s.push_back({t + "conv_1d.bias", {L}, false, I::Zero});
      s.push_back({t + "rg_lru.recurrent_param", {L}, false, I::Custom, -4.0f, -1.0f});
      s.push_back({t + "rg_lru.input_gate_weight", {heads, bw, bw}});
      s.push_back({t + "rg_lru.input_gate_bias", {heads, bw}, false, I::Zero});
      s.push_back({t + "rg_lru.recurrent_gate_weight", {heads, bw, bw}});
      s.push_back({t + "rg_lru.recurrent_gate_bias", {heads, bw}, false, I::Zero});
    }
    s.push_back({p + "mlp_block.gate_proj.weight", {M, D}});
    s.push_back({p + "mlp_block.gate_proj.bias", {M}, false, I::Zero});
    s.push_back({p + "mlp_block.up_proj.weight", {M, D}});
    s.push_back({p + "mlp_block.up_proj.bias", {M}, false, I::Zero});
    s.push_back({p + "mlp_block.down_proj.weight", {D, M}});
    s.push_back({p + "mlp_block.down_proj.bias", {D}, false, I::Zero});
  }
  s.push_back({"model.final_norm.weight", {D}, false, I::Zero});
  s.push_back({"lm_head.weight", {V, D}, tie_embeddings});
  return s;
}

}  // namespace hl
