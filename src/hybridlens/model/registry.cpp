#include "hybridlens/model/registry.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <vector>

#include "hybridlens/io/json_file.hpp"
#include "hybridlens/io/safetensors.hpp"
#include "hybridlens/model/jamba.hpp"
#include "hybridlens/model/mamba.hpp"
#include "hybridlens/model/recurrent_gemma.hpp"

namespace hl {
namespace {

const std::map<std::string, std::string>& known_architectures() {
  static const std::map<std::string, std::string> m{
      {"RecurrentGemmaForCausalLM", "recurrent_gemma"}, {"recurrent_gemma", "recurrent_gemma"},
      {"JambaForCausalLM", "jamba"},                     {"jamba", "jamba"},
      {"MambaForCausalLM", "mamba"},                     {"mamba", "mamba"},
  };
  return m;
}

std::string architecture_from(const nlohmann::json& j, const std::string& path) {
  std::string named;
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string())
    named = j["architectures"][0].get<std::string>();
  else if (j.contains("model_type") && j["model_type"].is_string())
    named = j["model_type"].get<std::string>();
  HL_CHECK(!named.empty(), path, ": names no architecture (neither \"architectures\" nor \"model_type\")");
  auto it = known_architectures().find(named);
  HL_CHECK(it != known_architectures().end(), path, ": unknown architecture \"", named,
           "\" (supported: RecurrentGemmaForCausalLM, JambaForCausalLM, MambaForCausalLM)");
  return it->second;
}

struct RandomSpec {
  std::string arch, preset;
  uint64_t seed = 0;
};

RandomSpec parse_random(const std::string& spec) {
  const std::string usage = "\" (expected random:ARCH:PRESET[:SEED], e.g. random:recurrent_gemma:2b or "
                            "random:jamba:jamba-mini-1.6:7)";
  std::vector<std::string> parts;
  size_t from = 0;
  for (size_t at; (at = spec.find(':', from)) != std::string::npos; from = at + 1)
    parts.push_back(spec.substr(from, at - from));
  parts.push_back(spec.substr(from));
  HL_CHECK(parts.size() == 3 || parts.size() == 4, "bad random model \"", spec, usage);
  RandomSpec r{parts[1], parts[2], 0};
  if (parts.size() == 4) {
    const std::string& s = parts[3];
    HL_CHECK(!s.empty() && s.size() <= 19 && s.find_first_not_of("0123456789") == std::string::npos,
             "bad random model \"", spec, "\": the seed \"", s, "\" is not a non-negative integer");
    r.seed = std::stoull(s);
  }
  return r;
}

std::unique_ptr<Model> random_model(const std::string& spec, Backend& backend) {
  const RandomSpec r = parse_random(spec);
  if (r.arch == "recurrent_gemma") {
    const RecurrentGemmaConfig c = RecurrentGemmaConfig::preset(r.preset);
    return make_recurrent_gemma(c, Weights::random(c.weight_specs(), backend, r.seed, DType::BF16), backend);
  }
  if (r.arch == "jamba") {
    const JambaConfig c = JambaConfig::preset(r.preset);
    return make_jamba(c, Weights::random(c.weight_specs(), backend, r.seed, DType::BF16), ExpertLayout::PerExpert,
                      backend);
  }
  if (r.arch == "mamba") {
    const MambaConfig c = MambaConfig::preset(r.preset);
    return make_mamba(c, Weights::random(c.weight_specs(), backend, r.seed, DType::BF16), backend);
  }
  fail("bad random model \"", spec, "\": unknown architecture \"", r.arch, "\" (known: recurrent_gemma, jamba, mamba)");
}

}  // namespace

bool is_random_model(const std::string& model) { return model.rfind("random:", 0) == 0; }

void require_checkpoint_directory(const std::string& model) {
  HL_CHECK(!is_random_model(model), model,
           ": the experiments need a checkpoint directory with its tokenizer.model (a random:... model has none); "
           "write one with hybridlens random-checkpoint --arch ARCH --preset PRESET --tokenizer FILE --out DIR");
  HL_CHECK(std::filesystem::is_directory(model), model, ": not a model directory");
}

std::string architecture_of(const std::string& model_dir) {
  const std::string path = (std::filesystem::path(model_dir) / "config.json").string();
  return architecture_from(read_json_file(path), path);
}

std::unique_ptr<Model> load_model(const std::string& model_dir, Backend& backend) {
  if (is_random_model(model_dir)) return random_model(model_dir, backend);
  HL_CHECK(std::filesystem::is_directory(model_dir), model_dir, ": not a model directory");
  const std::string path = (std::filesystem::path(model_dir) / "config.json").string();
  const nlohmann::json j = read_json_file(path);
  const std::string arch = architecture_from(j, path);
  if (arch == "recurrent_gemma") {
    const RecurrentGemmaConfig c = RecurrentGemmaConfig::from_json(j, path);
    return make_recurrent_gemma(c, TensorStore::open_dir(model_dir), backend);
  }
  if (arch == "jamba") return make_jamba(JambaConfig::from_json(j, path), TensorStore::open_dir(model_dir), backend);
  if (arch == "mamba") return make_mamba(MambaConfig::from_json(j, path), TensorStore::open_dir(model_dir), backend);
  fail(path, ": architecture \"", arch, "\" is recognised but not implemented yet");
}

}  // namespace hl
