#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "hybridlens/cli/commands.hpp"
#include "hybridlens/cli/common.hpp"

namespace hl::cli {
namespace {

struct InfoOptions {
  ModelOptions model;
  bool json = false;
};

std::string kinds_line(const std::vector<std::string>& kinds) {
  std::string s;
  for (const std::string& k : kinds) s += std::string(s.empty() ? "" : " ") + char(std::toupper(k[0]));
  return s;
}

void run(const InfoOptions& o) {
  LoadedModel m = load(o.model);
  const ModelInfo& i = m.model->info();
  std::map<std::string, int> counts;
  for (const std::string& k : i.layer_kinds) counts[k]++;
  if (o.json) {
    nlohmann::json j{{"architecture", i.architecture}, {"layers", i.layer_kinds.size()},
                     {"layer_kinds", i.layer_kinds}, {"hidden", i.hidden},
                     {"heads", i.heads},       {"kv_heads", i.kv_heads},
                     {"head_dim", i.head_dim}, {"window", i.window},
                     {"vocab", i.vocab},       {"parameters", i.parameters},
                     {"dtype", i.weight_dtype}, {"tokenizer", m.tokenizer != nullptr}};
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
            << "parameters    " << i.parameters << " (" << double(i.parameters) / 1e9 << " B)\n"
            << "dtype         " << i.weight_dtype << "\n"
            << "tokenizer     " << (m.tokenizer ? "yes" : "none") << "\n";
}

}  // namespace

void add_info(CLI::App& app) {
  auto opt = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand("info", "describe a checkpoint: architecture, layers, heads, window, size");
  opt->model.add_to(*cmd);
  cmd->add_flag("--json", opt->json, "print one JSON object");
  cmd->callback([opt] { run(*opt); });
}

}  // namespace hl::cli
