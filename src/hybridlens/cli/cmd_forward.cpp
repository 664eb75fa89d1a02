#include <iostream>

#include "hybridlens/cli/commands.hpp"
#include "hybridlens/cli/common.hpp"
#include "hybridlens/cli/lens_options.hpp"
#include "hybridlens/io/npy.hpp"

namespace hl::cli {
namespace {

struct ForwardOptions {
  ModelOptions model;
  PromptOptions prompt;
  LensOptions lens;
  std::string logits_out;
};

void run(const ForwardOptions& o) {
  LoadedModel m = load(o.model);
  const std::vector<int32_t> ids = o.prompt.resolve(o.model.dir, m.tokenizer.get());
  HL_CHECK(!ids.empty(), "the prompt has no tokens");
  const std::unique_ptr<Lens> lens = o.lens.make(m.model->info(), ids, m.tokenizer.get());
  DecodeState state = m.model->new_state();
  const std::vector<float> logits = m.model->forward(state, ids, Phase::Prefill, LogitsWanted::All, lens.get());
  write_npy(o.logits_out, logits.data(), {int64_t(ids.size()), int64_t(m.model->info().vocab)});
  std::cerr << "wrote logits [" << ids.size() << ", " << m.model->info().vocab << "] to " << o.logits_out << "\n";
  o.lens.write_outputs(lens.get());
}

}  // namespace

void add_forward(CLI::App& app) {
  auto opt = std::make_shared<ForwardOptions>();
  CLI::App* cmd = app.add_subcommand("forward", "run a prompt through the model and write the logits of every position");
  opt->model.add_to(*cmd);
  opt->prompt.add_to(*cmd);
  opt->lens.add_to(*cmd);
  cmd->add_option("--logits-out", opt->logits_out, "output .npy file, float32 [positions, vocab]")->required();
  cmd->callback([opt] { run(*opt); });
}

}  // namespace hl::cli
