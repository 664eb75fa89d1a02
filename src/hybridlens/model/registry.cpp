#include "hybridlens/model/registry.hpp"

#include <filesystem>
#include <map>

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

}  // namespace

std::string architecture_of(const std::string& model_dir) {
  const std::string path = (std::filesystem::path(model_dir) / "config.json").string();
  return architecture_from(read_json_file(path), path);
}

std::unique_ptr<Model> load_model(const std::string& model_dir, Backend& backend) {
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
