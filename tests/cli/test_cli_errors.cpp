// Every bad input a user can give ends in one clear error line on stderr and a non-zero exit.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include "support/fixtures.hpp"

namespace fs = std::filesystem;

namespace hl {
namespace {

struct Outcome {
  int code = 0;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

Outcome run_cli(const std::string& args) {
  const std::string dir = test::temp_dir("cli");
  const std::string cmd = std::string(HL_CLI_PATH) + " " + args + " >" + dir + "/out 2>" + dir + "/err";
  const int status = std::system(cmd.c_str());
  Outcome o;
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  o.out = slurp(dir + "/out");
  o.err = slurp(dir + "/err");
  return o;
}

std::string fixture(const std::string& name) { return std::string(HL_FIXTURES_DIR) + "/" + name; }

// A writable copy of a fixture checkpoint.
std::string copy_fixture(const std::string& name) {
  const std::string dir = test::temp_dir("ckpt");
  fs::copy(fixture(name), dir, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  return dir;
}

void expect_one_error_line(const Outcome& o, const std::string& must_mention) {
  EXPECT_NE(o.code, 0);
  EXPECT_LT(o.code, 128) << "the process crashed: " << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  EXPECT_EQ(o.err.rfind("hybridlens: error: ", 0), 0u) << o.err;
  EXPECT_NE(o.err.find(must_mention), std::string::npos) << "expected \"" << must_mention << "\" in: " << o.err;
}

TEST(CliErrors, MissingModelDirectory) {
  expect_one_error_line(run_cli("info --model /nonexistent/model"), "/nonexistent/model");
}

TEST(CliErrors, MissingConfig) {
  const std::string dir = copy_fixture("rg_mqa_f32");
  fs::remove(dir + "/config.json");
  expect_one_error_line(run_cli("info --model " + dir), "config.json");
}

TEST(CliErrors, MalformedConfig) {
  const std::string dir = copy_fixture("rg_mqa_f32");
  std::ofstream(dir + "/config.json") << "{\"hidden_size\": 64,";
  expect_one_error_line(run_cli("info --model " + dir), "config.json");
}

TEST(CliErrors, UnknownArchitecture) {
  const std::string dir = copy_fixture("rg_mqa_f32");
  std::ofstream(dir + "/config.json") << "{\"architectures\": [\"LlamaForCausalLM\"]}";
  expect_one_error_line(run_cli("info --model " + dir), "LlamaForCausalLM");
}

TEST(CliErrors, MissingSafetensors) {
  const std::string dir = copy_fixture("rg_mqa_f32");
  fs::remove(dir + "/model.safetensors");
  expect_one_error_line(run_cli("info --model " + dir), "model.safetensors");
}

TEST(CliErrors, TruncatedSafetensors) {
  const std::string dir = copy_fixture("rg_mqa_f32");
  fs::resize_file(dir + "/model.safetensors", fs::file_size(dir + "/model.safetensors") / 2);
  expect_one_error_line(run_cli("generate --model " + dir + " --ids 2,5,6"), "model.safetensors");
}

TEST(CliErrors, ShapeContradictsConfig) {
  const std::string dir = copy_fixture("rg_mqa_f32");
  std::string cfg = slurp(dir + "/config.json");
  const size_t at = cfg.find("\"intermediate_size\": 128");
  ASSERT_NE(at, std::string::npos) << cfg;
  cfg.replace(at, 24, "\"intermediate_size\": 256");
  std::ofstream(dir + "/config.json") << cfg;
  expect_one_error_line(run_cli("info --model " + dir), "mlp_block");
}

TEST(CliErrors, MissingTensor) {
  const std::string dir = copy_fixture("rg_mqa_f32");
  std::string cfg = slurp(dir + "/config.json");
  const size_t at = cfg.find("\"num_hidden_layers\": 6");
  ASSERT_NE(at, std::string::npos);
  cfg.replace(at, 22, "\"num_hidden_layers\": 9");
  std::ofstream(dir + "/config.json") << cfg;
  expect_one_error_line(run_cli("info --model " + dir), "model.layers.6");
}

TEST(CliErrors, TokenIdOutsideVocabulary) {
  expect_one_error_line(run_cli("forward --model " + fixture("rg_mqa_f32") + " --ids 2,700 --logits-out /dev/null"),
                        "700");
}

TEST(CliErrors, UnreadableTokenizer) {
  const std::string dir = copy_fixture("rg_mqa_f32");
  std::ofstream(dir + "/tokenizer.model") << "not a sentencepiece model";
  expect_one_error_line(run_cli("generate --model " + dir + " --prompt hello"), "tokenizer.model");
}

TEST(CliErrors, BadIdList) {
  expect_one_error_line(run_cli("generate --model " + fixture("rg_mqa_f32") + " --ids 2,x,5"), "x");
}

TEST(CliErrors, UnknownFlag) {
  const Outcome o = run_cli("generate --model " + fixture("rg_mqa_f32") + " --ids 2 --frobnicate");
  expect_one_error_line(o, "frobnicate");
}

TEST(CliErrors, BadLensFlags) {
  const std::string m = fixture("rg_mqa_f32");
  expect_one_error_line(run_cli("generate --model " + m + " --ids 2,5 --keep-heads many"), "--keep-heads");
  expect_one_error_line(run_cli("generate --model " + m + " --ids 2,5 --rank sideways"), "--rank");
  expect_one_error_line(run_cli("generate --model " + m + " --ids 2,5 --sparsify sometimes"), "--sparsify");
  expect_one_error_line(run_cli("generate --model " + m + " --ids 2,5 --prefill-manipulation omit"), "needle");
  expect_one_error_line(run_cli("generate --model " + m + " --prompt \"one two three\" --needle-text zebra"),
                        "zebra");
  expect_one_error_line(run_cli("generate --model " + m + " --ids 2,5 --needle-span 4:2"), "--needle-span");
  expect_one_error_line(run_cli("generate --model " + m + " --ids 2,5 --needle-span 1:9"), "ends past");
  expect_one_error_line(run_cli("generate --model " + m + " --ids 2,5 --rank fixed:/nonexistent"), "/nonexistent");
}

TEST(CliErrors, UnwritableOutput) {
  expect_one_error_line(
      run_cli("forward --model " + fixture("rg_mqa_f32") + " --ids 2,5 --logits-out /nonexistent/dir/x.npy"),
      "/nonexistent/dir/x.npy");
}

TEST(Cli, ForwardWritesLogitsAndLensRecordings) {
  const std::string dir = test::temp_dir("cli_out");
  const Outcome o = run_cli("forward --model " + fixture("rg_mqa_f32") +
                            " --prompt \"the cat sat on the mat\" --logits-out " + dir + "/l.npy --entropy-out " + dir +
                            "/e.npy --keep-heads 2 --sparsify both --kept-heads-out " + dir + "/k.npy");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_TRUE(fs::exists(dir + "/l.npy"));
  EXPECT_TRUE(fs::exists(dir + "/e.npy"));
  EXPECT_TRUE(fs::exists(dir + "/k.npy"));
}

TEST(Cli, GenerateWithAnEmptyFixedHeadListEqualsKeepingNoHead) {
  // rg_mqa_f32 has 4 heads per attention layer. A fixed list with no head must drop every head, as
  // --keep-heads 0 does; before LensPlan::is_identity knew about fixed lists it was ignored.
  const std::string dir = test::temp_dir("cli_fixed");
  { std::ofstream(dir + "/none.txt") << "# no head\n"; }
  const std::string base = "generate --model " + fixture("rg_mqa_f32") +
                           " --prompt \"the cat sat on the mat\" --max-new-tokens 6 --json --sparsify both ";
  const Outcome none = run_cli(base + "--rank fixed:" + dir + "/none.txt");
  const Outcome zero = run_cli(base + "--keep-heads 0");
  const Outcome all = run_cli(base + "--keep-heads all");
  ASSERT_EQ(none.code, 0) << none.err;
  ASSERT_EQ(zero.code, 0) << zero.err;
  ASSERT_EQ(all.code, 0) << all.err;
  auto ids = [](const std::string& json) {  // the generated ids; the output also holds timings
    const size_t at = json.find("\"ids\":[");
    return at == std::string::npos ? std::string() : json.substr(at, json.find(']', at) - at);
  };
  ASSERT_FALSE(ids(zero.out).empty()) << zero.out;
  EXPECT_EQ(ids(none.out), ids(zero.out));
  EXPECT_NE(ids(zero.out), ids(all.out)) << "keeping no head changes nothing here, so the comparison shows nothing";
}

TEST(Cli, GenerateJsonHasIdsAndText) {
  const Outcome o = run_cli("generate --model " + fixture("rg_mqa_f32") +
                            " --prompt \"the cat sat\" --max-new-tokens 5 --json");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("\"ids\":"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("\"text\":"), std::string::npos) << o.out;
}

TEST(Cli, InfoDescribesTheModel) {
  const Outcome o = run_cli("info --model " + fixture("rg_mqa_f32"));
  ASSERT_EQ(o.code, 0) << o.err;
  for (const char* s : {"RecurrentGemmaForCausalLM", "window        16", "KV heads", "parameters"})
    EXPECT_NE(o.out.find(s), std::string::npos) << s << " in " << o.out;
}

TEST(Cli, GeneratesFromARandomModelWithoutAFile) {
  const Outcome o =
      run_cli("generate --model random:jamba:tiny:3 --ids 2,17,40 --max-new-tokens 4 --ignore-eos --json");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_NE(o.out.find("\"ids\":"), std::string::npos) << o.out;
}

TEST(CliErrors, RandomModels) {
  expect_one_error_line(run_cli("generate --model random:jamba --ids 2,5"), "random:ARCH:PRESET[:SEED]");
  expect_one_error_line(run_cli("generate --model random:jamba:tiny --prompt hello"), "tokenizer.model");
  expect_one_error_line(run_cli("niah --model random:mamba:tiny --db " + test::temp_dir("rnd") + "/x.db"),
                        "random-checkpoint");
}

}  // namespace
}  // namespace hl
