#pragma once
// Each subcommand lives in its own file and registers itself on the application.
#include <CLI/CLI.hpp>

namespace hl::cli {

void add_info(CLI::App& app);
void add_forward(CLI::App& app);
void add_generate(CLI::App& app);
void add_random_checkpoint(CLI::App& app);
void add_heads(CLI::App& app);
void add_niah(CLI::App& app);
void add_mmlu(CLI::App& app);
void add_export(CLI::App& app);
void add_report(CLI::App& app);

}  // namespace hl::cli
