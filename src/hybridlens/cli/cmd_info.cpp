#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "hybridlens/cli/commands.hpp"
#include "hybridlens/cli/common.hpp"
#include "hybridlens/model/random_checkpoint.hpp"

namespace hl::cli {
namespace {

// 2683123456 -> "2.68 B", 189248 -> "189 k"
std::string human_count(int64_t n) {
  char buf[32];
  if (n >= 1000000000) std::snprintf(buf, sizeof buf, "%.2f B", double(n) / 1e9);
  else if (n >= 1000000) std::snprintf(buf, sizeof buf, "%.2f M", double(n) / 1e6);
  else std::snprintf(buf, sizeof buf, "%.0f k", double(n) / 1e3);
  return buf;
}

struct InfoOptions {
  ModelOptions model;
  std::string arch, preset;  // describe a preset shape without weights instead of --model
  bool json = false;
};

std::string kinds_line(const std::vector<std::string>& kinds) {
  std::string s;
  for (const std::string& k : kinds) s += std::string(s.empty() ? "" : " ") + char(std::toupper(k[0]));
  return s;
}

void print(const ModelInfo& i, bool has_tokenizer, bool json);

void run(const InfoOptions& o) {
  if (!o.arch.empty()) return print(describe_preset(o.arch, o.preset), false, o.json);
  HL_CHECK(!o.model.dir.empty(), "info: give --model DIR, or --arch A --preset P to describe a shape without weights");
  LoadedModel m = load(o.model);
  print(m.model->info(), m.tokenizer != nullptr, o.json);
}

void print(const ModelInfo& i, bool has_tokenizer, bool json) {
  std::map<std::string, int> counts;
  for (const std::string& k : i.layer_kinds) counts[k]++;
  if (json) {
    nlohmann::json j{{"architecture", i.architecture}, {"layers", i.layer_kinds.size()},
                     {"layer_kinds", i.layer_kinds}, {"hidden", i.hidden},
                     {"heads", i.heads},       {"kv_heads", i.kv_heads},
                     {"head_dim", i.head_dim}, {"window", i.window},
                     {"vocab", i.vocab},       {"parameters", i.parameters},
                     {"dtype", i.weight_dtype}, {"tokenizer", has_tokenizer}};
    if (i.experts > 0) {
      j["experts"] = i.experts;
      j["experts_per_token"] = i.experts_per_token;
      j["active_parameters"] = i.active_parameters;
    }
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::string mix;
  for (const auto& [k, n] : counts) mix += (mix.empty() ? "" : ", ") + std::to_string(n) + " " + k;
  std::cout << "architecture  " << i.architecture << "\n"
            << "layers        " << i.layer_kinds.size() << " (" << mix << ")\n"
            << "layer kinds   " << kinds_line(i.layer_kinds) << "\n"
            << "hidden        " << i.hidden << "\n"
            << "heads         " << i.heads << " per attention layer, " << i.kv_heads << " KV heads, head_dim "
            << i.head_dim << "\n"
            << "window        " << (i.window > 0 ? std::to_string(i.window) : std::string("global")) << "\n"
            << "vocab         " << i.vocab << "\n"
            << "parameters    " << i.parameters << " (" << human_count(i.parameters) << ")\n";
  if (i.experts > 0)
    std::cout << "experts       " << i.experts << " per MoE layer, " << i.experts_per_token << " per token; "
              << i.active_parameters << " (" << human_count(i.active_parameters) << ") parameters active\n";
  std::cout << "dtype         " << i.weight_dtype << "\n"
            << "tokenizer     " << (has_tokenizer ? "yes" : "none") << "\n";
}

}  // namespace

void add_info(CLI::App& app) {
  auto opt = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand("info", "describe a checkpoint: architecture, layers, heads, window, size");
  CLI::Option* model = cmd->add_option("--model", opt->model.dir, "checkpoint directory (config.json, safetensors)");
  CLI::Option* arch = cmd->add_option("--arch", opt->arch, "describe a preset shape without weights: architecture")
                          ->check(CLI::IsMember({"recurrent_gemma", "jamba", "mamba"}));
  CLI::Option* preset = cmd->add_option("--preset", opt->preset, "with --arch: the preset (e.g. jamba-mini-1.6)");
  model->excludes(arch);
  arch->needs(preset);
  preset->needs(arch);
  cmd->add_flag("--json", opt->json, "print one JSON object");
  cmd->callback([opt] { run(*opt); });
}

}  // namespace hl::cli
