#include <iostream>

#include "hybridlens/cli/commands.hpp"
#include "hybridlens/model/random_checkpoint.hpp"

namespace hl::cli {

void add_random_checkpoint(CLI::App& app) {
  auto opt = std::make_shared<RandomCheckpointOptions>();
  auto dtype = std::make_shared<std::string>("bf16");
  CLI::App* cmd = app.add_subcommand("random-checkpoint", "write a checkpoint with random weights in a real shape");
  cmd->add_option("--arch", opt->arch, "architecture")->check(CLI::IsMember({"recurrent_gemma", "jamba", "mamba"}));
  cmd->add_option("--preset", opt->preset,
                  "shape: recurrent_gemma 2b, 9b, tiny; jamba jamba-mini-1.6, small, tiny; mamba 130m ... 2.8b, tiny")
      ->required();
  cmd->add_option("--out", opt->out_dir, "output directory")->required();
  cmd->add_option("--dtype", *dtype, "storage dtype")->check(CLI::IsMember({"bf16", "f16", "f32"}));
  cmd->add_option("--seed", opt->seed, "random seed");
  cmd->add_option("--tokenizer", opt->tokenizer, "tokenizer.model to copy into the checkpoint")->check(CLI::ExistingFile);
  cmd->callback([opt, dtype] {
    opt->dtype = *dtype == "f32" ? DType::F32 : *dtype == "f16" ? DType::F16 : DType::BF16;
    const int64_t n = write_random_checkpoint(*opt);
    std::cerr << "wrote " << opt->arch << " " << opt->preset << " (" << n << " parameters, " << *dtype << ") to "
              << opt->out_dir << "\n";
  });
}

}  // namespace hl::cli
