// Jamba and Mamba beyond the reference fixtures: the issue's CPU-sized Jamba shape, both expert layouts,
// bad input (missing expert tensors, layer periods), descriptions without weights, and the CLI.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <filesystem>
#include <fstream>
#include <random>

#include "hybridlens/io/json_file.hpp"
#include "hybridlens/io/safetensors.hpp"
#include "hybridlens/model/generate.hpp"
#include "hybridlens/model/jamba_config.hpp"
#include "hybridlens/model/mamba_config.hpp"
#include "hybridlens/model/random_checkpoint.hpp"
#include "hybridlens/model/registry.hpp"
#include "support/fixtures.hpp"

namespace hl {
namespace {

namespace fs = std::filesystem;

std::string random_checkpoint(const std::string& arch, const std::string& preset, DType dtype) {
  RandomCheckpointOptions o;
  o.arch = arch;
  o.preset = preset;
  o.dtype = dtype;
  o.seed = 3;
  o.out_dir = test::temp_dir(arch + "_" + preset);
  write_random_checkpoint(o);
  return o.out_dir;
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an hl::Error, none was thrown";
  return "";
}

// Rewrites dir/model.safetensors through `edit`, which gets the tensors (copied out of the mapping).
void rewrite_tensors(const std::string& dir,
                     const std::function<void(std::vector<std::pair<std::string, Tensor>>&)>& edit) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  {
    const TensorStore store = TensorStore::open_dir(dir);
    for (const std::string& name : store.names()) {
      const Tensor t = store.get(name);
      Tensor c = Tensor::zeros(t.dtype(), t.shape());
      std::memcpy(c.raw(), t.raw(), t.nbytes());
      tensors.emplace_back(name, c);
    }
  }
  edit(tensors);
  write_safetensors((fs::path(dir) / "model.safetensors").string(), tensors);
}

void edit_config(const std::string& dir, const std::function<void(nlohmann::json&)>& edit) {
  const std::string path = (fs::path(dir) / "config.json").string();
  nlohmann::json j = read_json_file(path);
  edit(j);
  std::ofstream(path) << j.dump(2);
}

std::vector<int32_t> some_ids(int n, int vocab, int bos) {
  std::mt19937 rng(5);
  std::vector<int32_t> ids{bos};
  while (int(ids.size()) < n) ids.push_back(int32_t(rng() % unsigned(vocab)));
  return ids;
}

// --- the issue's CPU-sized Jamba: one attention layer in 8, hidden 1024, 16 experts -------------------

TEST(JambaModel, SmallShapeWithSixteenExpertsRuns) {
  const std::string dir = random_checkpoint("jamba", "small", DType::BF16);
  auto backend = make_cpu_backend();
  auto model = load_model(dir, *backend);
  const ModelInfo& info = model->info();
  EXPECT_EQ(info.architecture, "JambaForCausalLM");
  EXPECT_EQ(info.hidden, 1024);
  EXPECT_EQ(info.layer_kinds.size(), 8u);
  EXPECT_EQ(info.attention_layers(), 1);
  EXPECT_EQ(info.experts, 16);
  EXPECT_EQ(info.weight_dtype, "BF16");
  const std::vector<int32_t> ids = some_ids(24, info.vocab, info.bos_id);
  DecodeState st = model->new_state();
  const std::vector<float> all = model->forward(st, ids, Phase::Prefill, LogitsWanted::All);
  ASSERT_EQ(all.size(), ids.size() * size_t(info.vocab));
  for (float v : all) ASSERT_TRUE(std::isfinite(v));
  // The last row of a whole-prompt run equals a prefill of all but one token plus one decode step.
  DecodeState st2 = model->new_state();
  model->forward(st2, std::span<const int32_t>(ids).first(ids.size() - 1), Phase::Prefill, LogitsWanted::None);
  const std::vector<float> last = model->forward(st2, std::span<const int32_t>(ids).last(1), Phase::Generation,
                                                 LogitsWanted::Last);
  double diff = 0;
  for (size_t i = 0; i < last.size(); ++i)
    diff = std::max(diff, double(std::fabs(last[i] - all[all.size() - last.size() + i])));
  EXPECT_LE(diff, 1e-4);
}

// --- expert layouts -------------------------------------------------------------------------------------

TEST(JambaModel, FusedExpertTensorsGiveTheSameLogits) {
  const std::string dir = random_checkpoint("jamba", "tiny", DType::F32);
  auto backend = make_cpu_backend();
  const std::vector<int32_t> ids = some_ids(30, 512, 1);
  std::vector<float> per_expert;
  {
    auto model = load_model(dir, *backend);
    DecodeState st = model->new_state();
    per_expert = model->forward(st, ids, Phase::Prefill, LogitsWanted::All);
  }
  // Fuse as transformers 5 holds them: gate_up_proj [E, 2I, H] (gate rows then up rows), down_proj [E, H, I].
  const JambaConfig c = JambaConfig::preset("tiny");
  rewrite_tensors(dir, [&](std::vector<std::pair<std::string, Tensor>>& ts) {
    std::map<std::string, Tensor> by_name(ts.begin(), ts.end());
    std::vector<std::pair<std::string, Tensor>> out;
    for (auto& [name, t] : ts)
      if (name.find(".experts.") == std::string::npos) out.emplace_back(name, t);
    const int64_t F = c.intermediate, D = c.hidden;
    for (int i = 0; i < c.layers; ++i) {
      if (!c.is_moe(i)) continue;
      const std::string p = "model.layers." + std::to_string(i) + ".feed_forward.experts.";
      Tensor gu = Tensor::zeros(DType::F32, {c.experts, 2 * F, D});
      Tensor dn = Tensor::zeros(DType::F32, {c.experts, D, F});
      for (int e = 0; e < c.experts; ++e) {
        const std::string x = p + std::to_string(e) + ".";
        float* g = gu.data<float>() + int64_t(e) * 2 * F * D;
        std::memcpy(g, by_name.at(x + "gate_proj.weight").raw(), size_t(F * D) * 4);
        std::memcpy(g + F * D, by_name.at(x + "up_proj.weight").raw(), size_t(F * D) * 4);
        std::memcpy(dn.data<float>() + int64_t(e) * D * F, by_name.at(x + "down_proj.weight").raw(), size_t(F * D) * 4);
      }
      out.emplace_back(p + "gate_up_proj", gu);
      out.emplace_back(p + "down_proj", dn);
    }
    ts = out;
  });
  auto model = load_model(dir, *backend);
  DecodeState st = model->new_state();
  const std::vector<float> fused = model->forward(st, ids, Phase::Prefill, LogitsWanted::All);
  ASSERT_EQ(fused.size(), per_expert.size());
  EXPECT_EQ(fused, per_expert);
}

// --- bad input ------------------------------------------------------------------------------------------

TEST(JambaModel, MissingTensorOfOneExpertIsNamed) {
  const std::string dir = random_checkpoint("jamba", "tiny", DType::F32);
  const std::string gone = "model.layers.3.feed_forward.experts.2.up_proj.weight";
  rewrite_tensors(dir, [&](std::vector<std::pair<std::string, Tensor>>& ts) {
    std::erase_if(ts, [&](const auto& p) { return p.first == gone; });
  });
  auto backend = make_cpu_backend();
  const std::string msg = error_of([&] { load_model(dir, *backend); });
  EXPECT_NE(msg.find(gone), std::string::npos) << msg;
}

TEST(JambaModel, WrongExpertShapeIsNamed) {
  const std::string dir = random_checkpoint("jamba", "tiny", DType::F32);
  const std::string bad = "model.layers.1.feed_forward.experts.0.down_proj.weight";
  rewrite_tensors(dir, [&](std::vector<std::pair<std::string, Tensor>>& ts) {
    for (auto& [name, t] : ts)
      if (name == bad) t = Tensor::zeros(DType::F32, {t.dim(0), t.dim(1) - 1});
  });
  auto backend = make_cpu_backend();
  const std::string msg = error_of([&] { load_model(dir, *backend); });
  EXPECT_NE(msg.find(bad), std::string::npos) << msg;
}

struct BadConfig {
  const char* key;
  int value;
  const char* named_key;  // the key the error must name
};

class JambaBadConfigTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(JambaBadConfigTest, ErrorNamesConfigJsonAndKey) {
  const BadConfig b = GetParam();
  const std::string dir = random_checkpoint("jamba", "tiny", DType::F32);  // 8 layers
  edit_config(dir, [&](nlohmann::json& j) { j[b.key] = b.value; });
  auto backend = make_cpu_backend();
  const std::string msg = error_of([&] { load_model(dir, *backend); });
  EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find(b.named_key), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    Periods, JambaBadConfigTest,
    ::testing::Values(BadConfig{"attn_layer_period", 3, "attn_layer_period"},      // 3 does not divide 8
                      BadConfig{"expert_layer_period", 5, "expert_layer_period"},  // 5 does not divide 8
                      BadConfig{"attn_layer_period", 0, "attn_layer_period"},
                      BadConfig{"expert_layer_period", -2, "expert_layer_period"},
                      BadConfig{"attn_layer_offset", 4, "attn_layer_offset"},       // period 4
                      BadConfig{"expert_layer_offset", 2, "expert_layer_offset"},   // period 2
                      BadConfig{"attn_layer_offset", -1, "attn_layer_offset"},
                      BadConfig{"num_experts_per_tok", 5, "num_experts_per_tok"},   // 4 experts
                      BadConfig{"num_key_value_heads", 3, "num_key_value_heads"},
                      BadConfig{"mamba_d_state", 0, "mamba_d_state"}));

TEST(JambaConfig, LayerKindsFollowPeriodsAndOffsets) {
  nlohmann::json j = JambaConfig::preset("jamba-mini-1.6").to_json();
  const JambaConfig c = JambaConfig::from_json(j, "config.json");
  for (int i = 0; i < 32; ++i) {
    EXPECT_EQ(c.is_attention(i), i % 8 == 4) << i;
    EXPECT_EQ(c.is_moe(i), i % 2 == 1) << i;
  }
  EXPECT_EQ(c.dt_rank, 256);
  j["mamba_dt_rank"] = "auto";
  j["hidden_size"] = 1000;
  j["num_attention_heads"] = 8;
  EXPECT_EQ(JambaConfig::from_json(j, "config.json").dt_rank, 63);  // ceil(1000 / 16)
  j["num_experts"] = 1;  // one expert: transformers builds dense MLPs everywhere
  const JambaConfig dense = JambaConfig::from_json(j, "config.json");
  for (int i = 0; i < 32; ++i) EXPECT_FALSE(dense.is_moe(i));
  j["eos_token_id"] = {2, 518};
  EXPECT_EQ(JambaConfig::from_json(j, "config.json").eos, 2);
  j["mamba_dt_rank"] = "big";
  EXPECT_NE(error_of([&] { JambaConfig::from_json(j, "x/config.json"); }).find("mamba_dt_rank"), std::string::npos);
  j["mamba_dt_rank"] = 16;
  j["hidden_act"] = "gelu";
  EXPECT_NE(error_of([&] { JambaConfig::from_json(j, "x/config.json"); }).find("hidden_act"), std::string::npos);
}

TEST(MambaConfig, ReadsTransformersKeys) {
  nlohmann::json j{{"architectures", {"MambaForCausalLM"}}, {"hidden_size", 768}, {"num_hidden_layers", 24},
                   {"vocab_size", 50280}, {"state_size", 16}, {"expand", 2}, {"conv_kernel", 4},
                   {"time_step_rank", "auto"}, {"use_bias", false}, {"use_conv_bias", true},
                   {"layer_norm_epsilon", 1e-5}, {"intermediate_size", 1536}};
  const MambaConfig c = MambaConfig::from_json(j, "config.json");
  EXPECT_EQ(c.dt_rank, 48);
  EXPECT_EQ(c.d_inner, 1536);
  EXPECT_TRUE(c.tie_embeddings);
  j["intermediate_size"] = 1000;
  EXPECT_NE(error_of([&] { MambaConfig::from_json(j, "m/config.json"); }).find("intermediate_size"), std::string::npos);
}

TEST(MambaModel, MissingMixerTensorIsNamed) {
  const std::string dir = random_checkpoint("mamba", "tiny", DType::F32);
  const std::string gone = "backbone.layers.2.mixer.A_log";
  rewrite_tensors(dir, [&](std::vector<std::pair<std::string, Tensor>>& ts) {
    std::erase_if(ts, [&](const auto& p) { return p.first == gone; });
  });
  auto backend = make_cpu_backend();
  const std::string msg = error_of([&] { load_model(dir, *backend); });
  EXPECT_NE(msg.find(gone), std::string::npos) << msg;
}

TEST(MambaModel, UntiedHeadIsUsedWhenStored) {
  const std::string dir = random_checkpoint("mamba", "tiny", DType::F32);
  auto backend = make_cpu_backend();
  const std::vector<int32_t> ids = some_ids(10, 512, 0);
  std::vector<float> tied;
  {
    auto model = load_model(dir, *backend);
    DecodeState st = model->new_state();
    tied = model->forward(st, ids, Phase::Prefill, LogitsWanted::Last);
  }
  rewrite_tensors(dir, [&](std::vector<std::pair<std::string, Tensor>>& ts) {
    Tensor head = Tensor::zeros(DType::F32, {512, 64});
    ts.emplace_back("lm_head.weight", head);  // all zeros: every logit 0
  });
  auto model = load_model(dir, *backend);
  DecodeState st = model->new_state();
  const std::vector<float> untied = model->forward(st, ids, Phase::Prefill, LogitsWanted::Last);
  EXPECT_NE(tied, untied);
  for (float v : untied) EXPECT_EQ(v, 0.0f);
}

// --- descriptions without weights -----------------------------------------------------------------------

TEST(Presets, JambaMiniIsDescribedWithoutWeights) {
  const ModelInfo m = describe_preset("jamba", "jamba-mini-1.6");
  EXPECT_EQ(m.architecture, "JambaForCausalLM");
  EXPECT_EQ(m.layer_kinds.size(), 32u);
  EXPECT_EQ(m.attention_layers(), 4);
  EXPECT_EQ(m.heads, 32);
  EXPECT_EQ(m.kv_heads, 8);
  EXPECT_EQ(m.head_dim, 128);
  EXPECT_EQ(m.experts, 16);
  EXPECT_GT(m.parameters, 51'000'000'000);  // ~52B total
  EXPECT_LT(m.parameters, 53'000'000'000);
  EXPECT_GT(m.active_parameters, 11'000'000'000);  // ~12B active
  EXPECT_LT(m.active_parameters, 13'000'000'000);
}

TEST(Presets, Mamba130mHasTheHubParameterCount) {
  const ModelInfo m = describe_preset("mamba", "130m");
  EXPECT_EQ(m.attention_layers(), 0);
  EXPECT_EQ(m.parameters, 129'135'360);  // state-spaces/mamba-130m-hf (tied head)
}

// --- command line ---------------------------------------------------------------------------------------

struct CliResult {
  int status = -1;
  std::string output;  // stdout and stderr
};

CliResult run_cli(const std::string& args) {
  CliResult r;
  FILE* p = popen((std::string(HL_CLI_PATH) + " " + args + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

TEST(Cli, InfoDescribesJambaMiniWithoutWeights) {
  const CliResult r = run_cli("info --arch jamba --preset jamba-mini-1.6 --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["architecture"], "JambaForCausalLM");
  EXPECT_GT(j["parameters"].get<int64_t>(), 51'000'000'000);
  EXPECT_EQ(j["experts"], 16);
  const CliResult text = run_cli("info --arch jamba --preset jamba-mini-1.6");
  EXPECT_EQ(text.status, 0) << text.output;
  EXPECT_NE(text.output.find("M M M M A M M M"), std::string::npos) << text.output;
  EXPECT_EQ(run_cli("info --arch jamba --preset nope").status, 1);
  EXPECT_NE(run_cli("info").status, 0);
}

TEST(Cli, RandomCheckpointInfoForwardGenerateForBothArchitectures) {
  for (const std::string arch : {"jamba", "mamba"}) {
    const std::string dir = test::temp_dir("cli_" + arch);
    const CliResult w = run_cli("random-checkpoint --arch " + arch + " --preset tiny --dtype f32 --out " + dir);
    ASSERT_EQ(w.status, 0) << w.output;
    const CliResult i = run_cli("info --model " + dir + " --json");
    ASSERT_EQ(i.status, 0) << i.output;
    EXPECT_EQ(nlohmann::json::parse(i.output)["dtype"], "F32");
    const CliResult f = run_cli("forward --model " + dir + " --ids 1,5,9,200 --logits-out " + dir + "/l.npy");
    EXPECT_EQ(f.status, 0) << f.output;
    const CliResult g = run_cli("generate --model " + dir + " --ids 1,5,9,200 --max-new-tokens 4 --ignore-eos --json");
    ASSERT_EQ(g.status, 0) << g.output;
    EXPECT_EQ(nlohmann::json::parse(g.output)["ids"].size(), 4u);
  }
}

TEST(Cli, TokenizerJsonOnlyCheckpointsRunWithIdsAndExplainPrompt) {
  const std::string dir = test::temp_dir("cli_tokjson");
  ASSERT_EQ(run_cli("random-checkpoint --arch mamba --preset tiny --dtype f32 --out " + dir).status, 0);
  std::ofstream(fs::path(dir) / "tokenizer.json") << R"({"version": "1.0", "model": {"type": "BPE"}})";
  const CliResult ids = run_cli("generate --model " + dir + " --ids 0,5,9 --max-new-tokens 2 --ignore-eos");
  EXPECT_EQ(ids.status, 0) << ids.output;
  const CliResult text = run_cli("generate --model " + dir + " --prompt 'hello there' --max-new-tokens 2");
  EXPECT_EQ(text.status, 1) << text.output;
  EXPECT_NE(text.output.find("tokenizer.model"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("tokenizer.json"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("--ids"), std::string::npos) << text.output;
  EXPECT_EQ(std::count(text.output.begin(), text.output.end(), '\n'), 1) << "one line: " << text.output;
}

}  // namespace
}  // namespace hl
