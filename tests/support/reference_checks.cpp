#include "support/reference_checks.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>

#include "hybridlens/io/json_file.hpp"
#include "hybridlens/io/npy.hpp"
#include "hybridlens/io/tokenizer.hpp"
#include "hybridlens/lens/lens.hpp"
#include "hybridlens/model/generate.hpp"
#include "hybridlens/model/registry.hpp"

namespace hl::test {

void expect_logits_match(const Fixture& f, double rel_tol) {
  SCOPED_TRACE(f.name);
  auto backend = make_cpu_backend();
  auto model = load_model(f.dir, *backend);
  if (f.meta.contains("param_count")) {
    EXPECT_EQ(model->info().parameters, f.meta["param_count"].get<int64_t>());
  }
  for (size_t ci = 0; ci < f.cases.size(); ++ci) {
    const FixtureCase& c = f.cases[ci];
    const Tensor ref = read_npy(c.logits_path);
    ASSERT_EQ(ref.dim(0), int64_t(c.ids.size()));
    ASSERT_EQ(ref.dim(1), model->info().vocab);
    DecodeState st = model->new_state();
    const std::vector<float> got = model->forward(st, c.ids, Phase::Prefill, LogitsWanted::All);
    ASSERT_EQ(int64_t(got.size()), ref.numel());
    double scale = 0, err = 0;
    for (int64_t i = 0; i < ref.numel(); ++i) {
      scale = std::max(scale, double(std::fabs(ref.data<float>()[i])));
      err = std::max(err, double(std::fabs(got[size_t(i)] - ref.data<float>()[i])));
    }
    EXPECT_LE(err, rel_tol * scale) << "case " << ci << ": max abs error " << err << ", reference scale " << scale;
    std::cout << "[ fixture  ] " << f.name << " case " << ci << " (" << c.ids.size() << " tokens): max abs error "
              << err << ", reference scale " << scale << ", ratio " << err / std::max(scale, 1e-30) << "\n";
    ::testing::Test::RecordProperty(f.name + "_" + std::to_string(ci) + "_rel_error",
                                    std::to_string(err / std::max(scale, 1e-30)));
  }
}

void expect_entropy_match(const Fixture& f, double abs_tol) {
  SCOPED_TRACE(f.name);
  auto backend = make_cpu_backend();
  auto model = load_model(f.dir, *backend);
  const ModelInfo& info = model->info();
  for (size_t ci = 0; ci < f.cases.size(); ++ci) {
    const FixtureCase& c = f.cases[ci];
    if (c.entropy_path.empty()) continue;
    const Tensor ref = read_npy(c.entropy_path);
    ASSERT_EQ(ref.ndim(), 3);
    ASSERT_EQ(ref.dim(0), info.attention_layers());
    ASSERT_EQ(ref.dim(1), info.heads);
    ASSERT_EQ(ref.dim(2), int64_t(c.ids.size()));
    LensPlan plan;
    plan.record_entropy = true;
    Lens lens(plan, info.attention_layers(), info.heads);
    DecodeState st = model->new_state();
    model->forward(st, c.ids, Phase::Prefill, LogitsWanted::None, &lens);
    const Tensor got = lens.entropy();
    ASSERT_EQ(got.shape(), ref.shape());
    double err = 0;
    for (int64_t i = 0; i < ref.numel(); ++i)
      err = std::max(err, double(std::fabs(got.data<float>()[i] - ref.data<float>()[i])));
    EXPECT_LE(err, abs_tol) << "case " << ci << ": max abs entropy error " << err << " nats";
    std::cout << "[ fixture  ] " << f.name << " case " << ci << ": max abs entropy error " << err << " nats\n";
  }
}

void expect_greedy_match(const Fixture& f) {
  SCOPED_TRACE(f.name);
  auto backend = make_cpu_backend();
  auto model = load_model(f.dir, *backend);
  for (const FixtureCase& c : f.cases) {
    GenerateOptions g;
    g.max_new_tokens = int(c.greedy_new_ids.size());
    g.stop_at_eos = false;
    EXPECT_EQ(generate_greedy(*model, c.ids, g).new_ids, c.greedy_new_ids);
  }
}

void expect_tokenizer_match(const Fixture& f) {
  SCOPED_TRACE(f.name);
  namespace fs = std::filesystem;
  if (!fs::exists(fs::path(f.dir) / "tokenizer.model")) {
    if (fs::exists(fs::path(f.dir) / "tokenizer.json")) {
      try {
        Tokenizer::load_dir(f.dir);
        ADD_FAILURE() << "a tokenizer.json-only directory loaded";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("tokenizer.model"), std::string::npos) << e.what();
      }
    }
    return;
  }
  auto tok = Tokenizer::load_dir(f.dir);
  const nlohmann::json config = read_json_file((fs::path(f.dir) / "config.json").string());
  if (config.contains("bos_token_id") && config["bos_token_id"].is_number_integer()) {
    EXPECT_EQ(tok->bos_id(), config["bos_token_id"].get<int>());
  }
  for (const FixtureCase& c : f.cases) {
    if (!c.text.empty()) {
      EXPECT_EQ(tok->encode(c.text, true), c.ids);
    }
  }
  // Extra tokenizer-only cases: ids without BOS.
  if (f.meta.contains("tokenizer_cases")) {
    for (const auto& tc : f.meta["tokenizer_cases"]) {
      EXPECT_EQ(tok->encode(tc.at("text").get<std::string>(), false), tc.at("ids").get<std::vector<int32_t>>())
          << tc.at("text");
    }
  }
}

}  // namespace hl::test
