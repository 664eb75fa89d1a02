#pragma once
// Shared pieces of the eval tests: a tiny random RecurrentGemma with the fixtures' 512-piece tokenizer,
// and running the hybridlens CLI as a child process.
#include <cstdint>
#include <string>

namespace hl::test {

// A tiny random-weight RecurrentGemma checkpoint (4 heads, window 16) with a tokenizer.model, made once
// per test process.
const std::string& tiny_model_dir();
// The fixtures' tokenizer.model.
std::string fixture_tokenizer_path();
// tests/eval/data/letters_tokenizer.model: " A".." D" are single tokens (for MMLU).
std::string letters_tokenizer_path();
// A tiny random RecurrentGemma with the letters tokenizer, made once per test process.
const std::string& tiny_letters_model_dir();

struct CliResult {
  int status = -1;
  std::string output;  // stdout and stderr
};
// Runs `hybridlens <args>` through the shell; stdout and stderr together.
CliResult run_cli(const std::string& args);
// Runs `hybridlens <args>` with stdout only captured (stderr discarded).
CliResult run_cli_stdout(const std::string& args);

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& text);
// Single-quoted for the shell.
std::string sh(const std::string& s);

}  // namespace hl::test
