#include "hybridlens/model/random_checkpoint.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include "hybridlens/core/uniform_fill.hpp"
#include "hybridlens/io/safetensors_stream_writer.hpp"
#include "hybridlens/model/jamba_config.hpp"
#include "hybridlens/model/mamba_config.hpp"
#include "hybridlens/model/recurrent_gemma_config.hpp"

namespace hl {
namespace {

std::vector<WeightSpec> specs_for(const RandomCheckpointOptions& o, nlohmann::json& config) {
  if (o.arch == "recurrent_gemma") {
    const RecurrentGemmaConfig c = RecurrentGemmaConfig::preset(o.preset);
    config = c.to_json();
    return c.weight_specs();
  }
  if (o.arch == "jamba") {
    const JambaConfig c = JambaConfig::preset(o.preset);
    config = c.to_json();
    return c.weight_specs();
  }
  if (o.arch == "mamba") {
    const MambaConfig c = MambaConfig::preset(o.preset);
    config = c.to_json();
    return c.weight_specs();
  }
  fail("random-checkpoint: unknown --arch \"", o.arch, "\" (known: recurrent_gemma, jamba, mamba)");
}

}  // namespace

ModelInfo describe_preset(const std::string& arch, const std::string& preset) {
  if (arch == "jamba") return JambaConfig::preset(preset).describe();
  if (arch == "mamba") return MambaConfig::preset(preset).describe();
  if (arch == "recurrent_gemma") {
    const RecurrentGemmaConfig c = RecurrentGemmaConfig::preset(preset);
    ModelInfo m;
    m.architecture = "RecurrentGemmaForCausalLM";
    for (int i = 0; i < c.layers; ++i) m.layer_kinds.push_back(c.is_attention(i) ? "attention" : "recurrent");
    m.hidden = c.hidden;
    m.vocab = c.vocab;
    m.heads = c.heads;
    m.kv_heads = c.kv_heads;
    m.head_dim = c.head_dim;
    m.window = c.window;
    for (const WeightSpec& w : c.weight_specs())
      if (!w.optional) m.parameters += shape_numel(w.shape);
    m.weight_dtype = "none (described from the config)";
    m.bos_id = c.bos;
    m.eos_id = c.eos;
    m.pad_id = c.pad;
    return m;
  }
  fail("unknown --arch \"", arch, "\" (known: recurrent_gemma, jamba, mamba)");
}

int64_t write_random_checkpoint(const RandomCheckpointOptions& o) {
  nlohmann::json config;
  std::vector<WeightSpec> all = specs_for(o, config);
  std::vector<WeightSpec> specs;
  for (WeightSpec& s : all)
    if (!s.optional) specs.push_back(std::move(s));
  std::filesystem::create_directories(o.out_dir);
  config["torch_dtype"] = o.dtype == DType::F32 ? "float32" : o.dtype == DType::F16 ? "float16" : "bfloat16";
  {
    std::ofstream f(std::filesystem::path(o.out_dir) / "config.json");
    f << config.dump(2) << "\n";
    HL_CHECK(f.good(), o.out_dir, "/config.json: write failed");
  }
  std::vector<PlannedTensor> planned;
  int64_t params = 0;
  for (const WeightSpec& s : specs) {
    planned.push_back({s.name, o.dtype, s.shape});
    params += shape_numel(s.shape);
  }
  const auto fill = [&](size_t i, void* dst) {
    const WeightSpec& s = specs[i];
    const auto [lo, hi] = random_range(s);
    fill_uniform_host(dst, o.dtype, shape_numel(s.shape), lo, hi, random_stream(o.seed, s.name));
  };
  write_safetensors_streamed((std::filesystem::path(o.out_dir) / "model.safetensors").string(), planned, fill,
                             {{"format", "pt"}, {"generator", "hybridlens random-checkpoint"}});
  if (!o.tokenizer.empty())
    std::filesystem::copy_file(o.tokenizer, std::filesystem::path(o.out_dir) / "tokenizer.model",
                               std::filesystem::copy_options::overwrite_existing);
  return params;
}

}  // namespace hl
