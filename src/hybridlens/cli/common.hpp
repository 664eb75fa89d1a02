#pragma once
// Pieces several subcommands share: the prompt options, model loading, thread settings.
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "hybridlens/backend/backend.hpp"
#include "hybridlens/io/tokenizer.hpp"
#include "hybridlens/model/model.hpp"

namespace hl::cli {

// --model, --threads, --device.
struct ModelOptions {
  std::string dir;
  int threads = 0;
  std::string device = "cpu";
  void add_to(CLI::App& cmd);
};

// Adds --device (cpu, cuda or cuda:N; default cpu) to a command, stored in `device`.
void add_device_option(CLI::App& cmd, std::string& device);

// --ids, --ids-file or --prompt, exactly one.
struct PromptOptions {
  std::string ids;
  std::string ids_file;
  std::string prompt;
  void add_to(CLI::App& cmd);
  // Token ids of the prompt; --prompt is encoded with BOS prepended as the reference tokenizer does.
  std::vector<int32_t> resolve(const std::string& model_dir, const Tokenizer* tokenizer) const;
};

// "2,17,5" -> {2, 17, 5}; throws on anything that is not a comma list of integers.
std::vector<int32_t> parse_id_list(const std::string& text);

struct LoadedModel {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;  // null when the directory has none
};

LoadedModel load(const ModelOptions& opt);

// Writes s as a JSON string literal.
std::string json_quote(const std::string& s);

}  // namespace hl::cli
