#include "eval/eval_test_util.hpp"

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "hybridlens/model/random_checkpoint.hpp"
#include "support/fixtures.hpp"

namespace fs = std::filesystem;

namespace hl::test {

std::string fixture_tokenizer_path() { return std::string(HL_FIXTURES_DIR) + "/rg_mqa_f32/tokenizer.model"; }

std::string letters_tokenizer_path() { return std::string(HL_SOURCE_DIR) + "/tests/eval/data/letters_tokenizer.model"; }

namespace {
std::string make_tiny(const std::string& tag, const std::string& tokenizer) {
  RandomCheckpointOptions o;
  o.arch = "recurrent_gemma";
  o.preset = "tiny";
  o.dtype = DType::F32;
  o.seed = 11;
  o.out_dir = temp_dir(tag);
  o.tokenizer = tokenizer;
  write_random_checkpoint(o);
  return o.out_dir;
}
}  // namespace

const std::string& tiny_model_dir() {
  static const std::string dir = make_tiny("eval_tiny_rg", fixture_tokenizer_path());
  return dir;
}

const std::string& tiny_letters_model_dir() {
  static const std::string dir = make_tiny("eval_tiny_rg_letters", letters_tokenizer_path());
  return dir;
}

std::string sh(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

namespace {
CliResult run_shell(const std::string& cmd) {
  CliResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}
}  // namespace

CliResult run_cli(const std::string& args) { return run_shell(std::string(HL_CLI_PATH) + " " + args + " 2>&1"); }
CliResult run_cli_stdout(const std::string& args) {
  return run_shell(std::string(HL_CLI_PATH) + " " + args + " 2>/dev/null");
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace hl::test
