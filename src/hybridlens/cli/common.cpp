#include "hybridlens/cli/common.hpp"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "hybridlens/backend/make_backend.hpp"
#include "hybridlens/core/parallel.hpp"
#include "hybridlens/model/registry.hpp"

namespace hl::cli {

void ModelOptions::add_to(CLI::App& cmd) {
  cmd.add_option("--model", dir,
                 "checkpoint directory (config.json, safetensors, tokenizer.model), or random:ARCH:PRESET[:SEED] for "
                 "random BF16 weights made on the device (no file; e.g. random:jamba:jamba-mini-1.6)")
      ->required();
  cmd.add_option("--threads", threads, "CPU threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  add_device_option(cmd, device);
}

void add_device_option(CLI::App& cmd, std::string& device) {
  cmd.add_option("--device", device, "where the model runs: cpu (default), cuda or cuda:N")->capture_default_str();
}

void PromptOptions::add_to(CLI::App& cmd) {
  auto* i = cmd.add_option("--ids", ids, "prompt as comma-separated token ids, used as given (no BOS added)");
  auto* f = cmd.add_option("--ids-file", ids_file, "prompt token ids from a file (commas or whitespace between)");
  auto* p = cmd.add_option("--prompt", prompt, "prompt text; BOS is prepended as the reference tokenizer does");
  i->excludes(p)->excludes(f);
  f->excludes(p)->excludes(i);
  p->excludes(i)->excludes(f);
}

std::vector<int32_t> parse_id_list(const std::string& text) {
  std::vector<int32_t> ids;
  size_t at = 0;
  while (at <= text.size()) {
    size_t comma = text.find(',', at);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(at, comma - at);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    HL_CHECK(!item.empty() && ec == std::errc() && end == item.data() + item.size() && v >= INT32_MIN &&
                 v <= INT32_MAX,
             "--ids: \"", item, "\" is not a token id (expected a comma-separated list like 2,17,5)");
    ids.push_back(int32_t(v));
    at = comma + 1;
  }
  return ids;
}

std::vector<int32_t> PromptOptions::resolve(const std::string& model_dir, const Tokenizer* tokenizer) const {
  if (!ids.empty()) return parse_id_list(ids);
  if (!ids_file.empty()) {
    std::ifstream f(ids_file);
    HL_CHECK(f.good(), ids_file, ": cannot read the token ids");
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    for (char& c : text)
      if (c == ' ' || c == '\n' || c == '\t' || c == '\r') c = ',';
    std::string squeezed;
    for (char c : text)
      if (!(c == ',' && (squeezed.empty() || squeezed.back() == ','))) squeezed += c;
    while (!squeezed.empty() && squeezed.back() == ',') squeezed.pop_back();
    HL_CHECK(!squeezed.empty(), ids_file, ": no token ids");
    try {
      return parse_id_list(squeezed);
    } catch (const Error& e) {
      fail(ids_file, ": ", e.what());
    }
  }
  HL_CHECK(!prompt.empty(), "give the prompt with --ids, --ids-file or --prompt");
  if (tokenizer == nullptr) {
    const bool json_only = std::filesystem::exists(std::filesystem::path(model_dir) / "tokenizer.json");
    fail(model_dir, ": --prompt needs a SentencePiece tokenizer.model, which this checkpoint lacks",
         json_only ? " (it ships only tokenizer.json, which hybridlens cannot read yet)" : "",
         "; add the model's tokenizer.model to the directory, or give token ids with --ids");
  }
  return tokenizer->encode(prompt, true);
}

LoadedModel load(const ModelOptions& opt) {
  set_num_threads(opt.threads);
  LoadedModel m;
  m.backend = make_backend(opt.device);
  m.model = load_model(opt.dir, *m.backend);
  const auto dir = std::filesystem::path(opt.dir);
  // A tokenizer.json alone is not readable yet; such checkpoints still run with --ids.
  if (std::filesystem::exists(dir / "tokenizer.model")) m.tokenizer = Tokenizer::load_dir(opt.dir);
  return m;
}

std::string json_quote(const std::string& s) { return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

}  // namespace hl::cli
