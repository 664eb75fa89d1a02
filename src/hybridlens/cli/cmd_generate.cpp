#include <iostream>
#include <nlohmann/json.hpp>

#include "hybridlens/cli/commands.hpp"
#include "hybridlens/cli/common.hpp"
#include "hybridlens/cli/lens_options.hpp"
#include "hybridlens/model/generate.hpp"

namespace hl::cli {
namespace {

struct GenerateCliOptions {
  ModelOptions model;
  PromptOptions prompt;
  LensOptions lens;
  int max_new_tokens = 32;
  bool json = false;
  bool ignore_eos = false;
};

void run(const GenerateCliOptions& o) {
  LoadedModel m = load(o.model);
  const std::vector<int32_t> ids = o.prompt.resolve(o.model.dir, m.tokenizer.get());
  const std::unique_ptr<Lens> lens = o.lens.make(m.model->info(), ids, m.tokenizer.get());
  GenerateOptions g;
  g.max_new_tokens = o.max_new_tokens;
  g.stop_at_eos = !o.ignore_eos;
  g.lens = lens.get();
  const GenerateResult r = generate_greedy(*m.model, ids, g);
  o.lens.write_outputs(lens.get());
  const std::string text = m.tokenizer ? m.tokenizer->decode(r.new_ids) : std::string();
  const double tps = r.decode_seconds > 0 && r.new_ids.size() > 1 ? double(r.new_ids.size() - 1) / r.decode_seconds : 0;
  if (o.json) {
    nlohmann::json j{{"ids", r.new_ids},
                     {"text", text},
                     {"prompt_ids", ids},
                     {"prefill_seconds", r.prefill_seconds},
                     {"decode_seconds", r.decode_seconds},
                     {"decode_tokens_per_second", tps}};
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return;
  }
  if (m.tokenizer) {
    std::cout << text << "\n";
  } else {
    for (size_t i = 0; i < r.new_ids.size(); ++i) std::cout << (i ? "," : "") << r.new_ids[i];
    std::cout << "\n";
  }
  std::cerr << ids.size() << " prompt tokens in " << r.prefill_seconds << " s, " << r.new_ids.size()
            << " new tokens (" << tps << " tokens/s decoding)\n";
}

}  // namespace

void add_generate(CLI::App& app) {
  auto opt = std::make_shared<GenerateCliOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "greedy generation from a prompt");
  opt->model.add_to(*cmd);
  opt->prompt.add_to(*cmd);
  opt->lens.add_to(*cmd);
  cmd->add_option("--max-new-tokens", opt->max_new_tokens, "tokens to generate at most")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", opt->json, "print one JSON object with ids, text and timings");
  cmd->add_flag("--ignore-eos", opt->ignore_eos, "keep generating after the end-of-sequence token");
  cmd->callback([opt] { run(*opt); });
}

}  // namespace hl::cli
