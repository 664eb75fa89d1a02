#include "hybridlens/model/mamba_config.hpp"

#include "hybridlens/core/error.hpp"
#include "hybridlens/model/config_json.hpp"
#include "hybridlens/model/mamba_mixer.hpp"

namespace hl {

MambaConfig MambaConfig::from_json(const nlohmann::json& j, const std::string& path) {
  const ConfigReader r(j, path);
  MambaConfig c;
  c.hidden = int(r.positive("hidden_size"));
  c.layers = int(r.positive("num_hidden_layers"));
  c.vocab = int(r.positive("vocab_size"));
  c.d_state = int(r.positive("state_size", 16));
  c.expand = int(r.positive("expand", 2));
  c.d_conv = int(r.positive("conv_kernel", 4));
  c.dt_rank = read_dt_rank(r, "time_step_rank", c.hidden);
  // transformers sets intermediate_size = expand * hidden_size and saves it; a saved value must agree.
  c.d_inner = int(r.positive("intermediate_size", int64_t(c.expand) * c.hidden));
  if (c.d_inner != c.expand * c.hidden)
    r.bad("intermediate_size", "must equal expand * hidden_size (" + std::to_string(c.expand * c.hidden) + ")");
  c.use_bias = r.boolean("use_bias", false);
  c.use_conv_bias = r.boolean("use_conv_bias", true);
  c.eps = float(r.number("layer_norm_epsilon", 1e-5));
  c.tie_embeddings = r.boolean("tie_word_embeddings", true);
  c.bos = read_token_id(r, "bos_token_id", 0);
  c.eos = read_token_id(r, "eos_token_id", 0);
  c.pad = read_token_id(r, "pad_token_id", 0);
  require_silu(r, "hidden_act");
  return c;
}

nlohmann::json MambaConfig::to_json() const {
  return {{"architectures", {"MambaForCausalLM"}},
          {"model_type", "mamba"},
          {"hidden_size", hidden},
          {"num_hidden_layers", layers},
          {"vocab_size", vocab},
          {"state_size", d_state},
          {"expand", expand},
          {"conv_kernel", d_conv},
          {"time_step_rank", dt_rank},
          {"intermediate_size", d_inner},
          {"use_bias", use_bias},
          {"use_conv_bias", use_conv_bias},
          {"hidden_act", "silu"},
          {"layer_norm_epsilon", eps},
          {"residual_in_fp32", true},
          {"tie_word_embeddings", tie_embeddings},
          {"bos_token_id", bos},
          {"eos_token_id", eos},
          {"pad_token_id", pad}};
}

MambaConfig MambaConfig::preset(const std::string& name) {
  MambaConfig c;
  c.vocab = 50280;
  if (name == "130m") {
    c.hidden = 768; c.layers = 24;
  } else if (name == "370m") {
    c.hidden = 1024; c.layers = 48;
  } else if (name == "790m") {
    c.hidden = 1536; c.layers = 48;
  } else if (name == "1.4b") {
    c.hidden = 2048; c.layers = 48;
  } else if (name == "2.8b") {
    c.hidden = 2560; c.layers = 64;
  } else if (name == "tiny") {
    c.hidden = 64; c.layers = 4; c.vocab = 512;
  } else {
    fail("unknown mamba preset \"", name, "\" (known: 130m, 370m, 790m, 1.4b, 2.8b, tiny)");
  }
  c.d_inner = c.expand * c.hidden;
  c.dt_rank = (c.hidden + 15) / 16;
  return c;
}

std::vector<WeightSpec> MambaConfig::weight_specs() const {
  using I = WeightSpec::Init;
  const int64_t D = hidden, V = vocab;
  const MambaMixerShape m{D, d_inner, d_state, dt_rank, d_conv, use_conv_bias, use_bias, false};
  std::vector<WeightSpec> s;
  s.push_back({"backbone.embeddings.weight", {V, D}, false, I::Custom, -0.05f, 0.05f});
  for (int i = 0; i < layers; ++i) {
    const std::string p = "backbone.layers." + std::to_string(i) + ".";
    s.push_back({p + "norm.weight", {D}, false, I::One});
    append_mamba_mixer_specs(s, p + "mixer.", m);
  }
  s.push_back({"backbone.norm_f.weight", {D}, false, I::One});
  s.push_back({"lm_head.weight", {V, D}, tie_embeddings});
  return s;
}

ModelInfo MambaConfig::describe() const {
  ModelInfo m;
  m.architecture = "MambaForCausalLM";
  m.layer_kinds.assign(size_t(layers), "mamba");
  m.hidden = hidden;
  m.vocab = vocab;
  for (const WeightSpec& w : weight_specs())
    if (!w.optional) m.parameters += shape_numel(w.shape);
  m.weight_dtype = "none (described from the config)";
  m.bos_id = bos;
  m.eos_id = eos;
  m.pad_id = pad;
  return m;
}

}  // namespace hl
