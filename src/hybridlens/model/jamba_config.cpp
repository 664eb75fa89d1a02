#include "hybridlens/model/jamba_config.hpp"

#include <cmath>

#include "hybridlens/core/error.hpp"
#include "hybridlens/model/config_json.hpp"
#include "hybridlens/model/mamba_mixer.hpp"

namespace hl {
namespace {

// A layer-pattern (period, offset) pair: period > 0, 0 <= offset < period, period divides the layer count.
void read_pattern(const ConfigReader& r, const char* period_key, const char* offset_key, int def_period,
                  int def_offset, int layers, int& period, int& offset) {
  period = int(r.positive(period_key, def_period));
  const int64_t o = r.integer(offset_key, def_offset);
  if (o < 0 || o >= period)
    r.bad(offset_key, "must be at least 0 and smaller than \"" + std::string(period_key) + "\" (" +
                          std::to_string(period) + "), got " + std::to_string(o));
  offset = int(o);
  if (layers % period != 0)
    r.bad(period_key, "(" + std::to_string(period) + ") must divide \"num_hidden_layers\" (" + std::to_string(layers) +
                          ")");
}

}  // namespace

JambaConfig JambaConfig::from_json(const nlohmann::json& j, const std::string& path) {
  const ConfigReader r(j, path);
  JambaConfig c;
  c.hidden = int(r.positive("hidden_size"));
  c.intermediate = int(r.positive("intermediate_size"));
  c.layers = int(r.positive("num_hidden_layers"));
  c.vocab = int(r.positive("vocab_size"));
  c.heads = int(r.positive("num_attention_heads"));
  // transformers: absent -> 8, null -> num_attention_heads.
  c.kv_heads = !j.contains("num_key_value_heads") ? 8 : int(r.positive("num_key_value_heads", c.heads));
  c.head_dim = int(r.positive("head_dim", c.hidden / c.heads));
  c.experts = int(r.positive("num_experts", 16));
  c.experts_per_token = int(r.positive("num_experts_per_tok", 2));
  read_pattern(r, "attn_layer_period", "attn_layer_offset", 8, 4, c.layers, c.attn_period, c.attn_offset);
  read_pattern(r, "expert_layer_period", "expert_layer_offset", 2, 1, c.layers, c.expert_period, c.expert_offset);
  c.d_state = int(r.positive("mamba_d_state", 16));
  c.d_conv = int(r.positive("mamba_d_conv", 4));
  c.expand = int(r.positive("mamba_expand", 2));
  c.dt_rank = read_dt_rank(r, "mamba_dt_rank", c.hidden);
  c.conv_bias = r.boolean("mamba_conv_bias", true);
  c.proj_bias = r.boolean("mamba_proj_bias", false);
  c.eps = float(r.number("rms_norm_eps", 1e-6));
  c.tie_embeddings = r.boolean("tie_word_embeddings", false);
  c.bos = read_token_id(r, "bos_token_id", 1);
  c.eos = read_token_id(r, "eos_token_id", 2);
  c.pad = read_token_id(r, "pad_token_id", 0);
  require_silu(r, "hidden_act");
  if (c.hidden % c.heads != 0 && !r.has("head_dim")) r.bad("hidden_size", "must be divisible by num_attention_heads");
  if (c.heads % c.kv_heads != 0) r.bad("num_key_value_heads", "must divide num_attention_heads");
  if (c.experts > 1 && c.experts_per_token > c.experts)
    r.bad("num_experts_per_tok", "must not exceed num_experts (" + std::to_string(c.experts) + ")");
  if (r.has("sliding_window")) r.bad("sliding_window", "is not supported (Jamba attention is global)");
  return c;
}

nlohmann::json JambaConfig::to_json() const {
  return {{"architectures", {"JambaForCausalLM"}},
          {"model_type", "jamba"},
          {"hidden_size", hidden},
          {"intermediate_size", intermediate},
          {"num_hidden_layers", layers},
          {"vocab_size", vocab},
          {"num_attention_heads", heads},
          {"num_key_value_heads", kv_heads},
          {"num_experts", experts},
          {"num_experts_per_tok", experts_per_token},
          {"expert_layer_period", expert_period},
          {"expert_layer_offset", expert_offset},
          {"attn_layer_period", attn_period},
          {"attn_layer_offset", attn_offset},
          {"mamba_d_state", d_state},
          {"mamba_d_conv", d_conv},
          {"mamba_expand", expand},
          {"mamba_dt_rank", dt_rank},
          {"mamba_conv_bias", conv_bias},
          {"mamba_proj_bias", proj_bias},
          {"hidden_act", "silu"},
          {"rms_norm_eps", eps},
          {"tie_word_embeddings", tie_embeddings},
          {"use_mamba_kernels", false},
          {"bos_token_id", bos},
          {"eos_token_id", eos},
          {"pad_token_id", pad}};
}

JambaConfig JambaConfig::preset(const std::string& name) {
  JambaConfig c;
  if (name == "jamba-mini-1.6" || name == "jamba-1.5-mini" || name == "jamba-v0.1") {
    c.hidden = 4096; c.intermediate = 14336; c.layers = 32; c.vocab = 65536;
    c.heads = 32; c.kv_heads = 8;
  } else if (name == "small") {
    // The CPU-sized shape: one attention layer in 8, hidden 1024, 16 experts (top 2).
    c.hidden = 1024; c.intermediate = 256; c.layers = 8; c.vocab = 1024;
    c.heads = 8; c.kv_heads = 2;
  } else if (name == "tiny") {
    c.hidden = 64; c.intermediate = 96; c.layers = 8; c.vocab = 512;
    c.heads = 4; c.kv_heads = 2;
    c.experts = 4; c.experts_per_token = 2;
    c.attn_period = 4; c.attn_offset = 1;  // attention at layers 1 and 5 (both MoE layers)
    c.d_state = 8;
  } else {
    fail("unknown jamba preset \"", name, "\" (known: jamba-mini-1.6, jamba-1.5-mini, jamba-v0.1, small, tiny)");
  }
  c.head_dim = c.hidden / c.heads;
  c.dt_rank = (c.hidden + 15) / 16;
  return c;
}

std::vector<WeightSpec> JambaConfig::weight_specs(ExpertLayout layout) const {
  using I = WeightSpec::Init;
  const int64_t D = hidden, F = intermediate, V = vocab, Din = d_inner(), N = d_state, R = dt_rank;
  const int64_t qw = int64_t(heads) * head_dim, kw = int64_t(kv_heads) * head_dim;
  std::vector<WeightSpec> s;
  s.push_back({"model.embed_tokens.weight", {V, D}, false, I::Custom, -0.05f, 0.05f});
  for (int i = 0; i < layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    s.push_back({p + "input_layernorm.weight", {D}, false, I::One});
    if (is_attention(i)) {
      s.push_back({p + "self_attn.q_proj.weight", {qw, D}});
      s.push_back({p + "self_attn.k_proj.weight", {kw, D}});
      s.push_back({p + "self_attn.v_proj.weight", {kw, D}});
      s.push_back({p + "self_attn.o_proj.weight", {D, qw}});
    } else {
      append_mamba_mixer_specs(s, p + "mamba.", MambaMixerShape{D, Din, N, R, d_conv, conv_bias, proj_bias, true});
    }
    s.push_back({p + "pre_ff_layernorm.weight", {D}, false, I::One});
    const std::string f = p + "feed_forward.";
    if (is_moe(i)) {
      s.push_back({f + "router.weight", {experts, D}});
      if (layout == ExpertLayout::Fused) {
        s.push_back({f + "experts.gate_up_proj", {experts, 2 * F, D}});
        s.push_back({f + "experts.down_proj", {experts, D, F}});
      } else {
        for (int e = 0; e < experts; ++e) {
          const std::string x = f + "experts." + std::to_string(e) + ".";
          s.push_back({x + "gate_proj.weight", {F, D}});
          s.push_back({x + "up_proj.weight", {F, D}});
          s.push_back({x + "down_proj.weight", {D, F}});
        }
      }
    } else {
      s.push_back({f + "gate_proj.weight", {F, D}});
      s.push_back({f + "up_proj.weight", {F, D}});
      s.push_back({f + "down_proj.weight", {D, F}});
    }
  }
  s.push_back({"model.final_layernorm.weight", {D}, false, I::One});
  s.push_back({"lm_head.weight", {V, D}, tie_embeddings});
  return s;
}

ModelInfo JambaConfig::describe() const {
  ModelInfo m;
  m.architecture = "JambaForCausalLM";
  for (int i = 0; i < layers; ++i) m.layer_kinds.push_back(is_attention(i) ? "attention" : "mamba");
  m.hidden = hidden;
  m.vocab = vocab;
  m.heads = heads;
  m.kv_heads = kv_heads;
  m.head_dim = head_dim;
  m.window = 0;
  for (const WeightSpec& w : weight_specs())
    if (!w.optional) m.parameters += shape_numel(w.shape);
  m.experts = experts > 1 ? experts : 0;
  m.experts_per_token = experts > 1 ? experts_per_token : 0;
  int moe_layers = 0;
  for (int i = 0; i < layers; ++i) moe_layers += is_moe(i);
  m.active_parameters = m.parameters - int64_t(moe_layers) * (experts - experts_per_token) * 3 * int64_t(hidden) * intermediate;
  m.weight_dtype = "none (described from the config)";
  m.bos_id = bos;
  m.eos_id = eos;
  m.pad_id = pad;
  return m;
}

}  // namespace hl
