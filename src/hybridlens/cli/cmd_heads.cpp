// hybridlens heads: per-head statistics over a set of prompts, as CSV and layer x head heatmaps.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "hybridlens/cli/commands.hpp"
#include "hybridlens/cli/common.hpp"
#include "hybridlens/lens/head_stats.hpp"
#include "hybridlens/lens/lens.hpp"
#include "hybridlens/lens/needle_locator.hpp"
#include "hybridlens/model/generate.hpp"
#include "hybridlens/report/heatmap_svg.hpp"

namespace hl::cli {
namespace {

struct HeadsOptions {
  ModelOptions model;
  std::string prompts;
  std::string needle_text;
  std::string k_list = "1,2,4,8";
  int max_new_tokens = 32;
  std::string out = "heads_out";
};

struct PromptLine {
  std::string prompt, needle;
};

std::vector<PromptLine> read_prompts(const std::string& path, const std::string& default_needle) {
  std::ifstream f(path);
  HL_CHECK(f.good(), path, ": cannot read");
  std::vector<PromptLine> out;
  std::string line;
  for (int n = 1; std::getline(f, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      fail(path, ":", n, ": not a JSON object");
    }
    HL_CHECK(j.is_object() && j.contains("prompt") && j["prompt"].is_string(), path, ":", n,
             ": expected {\"prompt\": \"...\", \"needle\": \"...\" (optional)}");
    PromptLine p{j["prompt"].get<std::string>(), default_needle};
    if (j.contains("needle")) {
      HL_CHECK(j["needle"].is_string(), path, ":", n, ": \"needle\" must be a string");
      p.needle = j["needle"].get<std::string>();
    }
    out.push_back(std::move(p));
  }
  HL_CHECK(!out.empty(), path, ": no prompts");
  return out;
}

Heatmap layer_head_map(const HeadStats& s, const std::string& title, double (HeadStats::*get)(int, int) const) {
  Heatmap h;
  h.title = title;
  h.row_axis = "attention layer";
  h.col_axis = "head";
  h.vmin = 1e300;
  h.vmax = -1e300;
  for (int l = 0; l < s.layers(); ++l) h.row_labels.push_back(std::to_string(l));
  for (int c = 0; c < s.heads(); ++c) h.col_labels.push_back(std::to_string(c));
  for (int l = 0; l < s.layers(); ++l)
    for (int c = 0; c < s.heads(); ++c) {
      const double v = (s.*get)(l, c);
      h.values.push_back(v);
      if (!std::isnan(v)) {
        h.vmin = std::min(h.vmin, v);
        h.vmax = std::max(h.vmax, v);
      }
    }
  if (h.vmin > h.vmax) h.vmin = 0, h.vmax = 1;
  h.annotate = s.heads() <= 16;
  return h;
}

void run(const HeadsOptions& o) {
  LoadedModel m = load(o.model);
  const ModelInfo& info = m.model->info();
  HL_CHECK(info.attention_layers() > 0, o.model.dir, ": the model has no attention layers");
  HL_CHECK(m.tokenizer != nullptr, o.model.dir, ": heads needs the model's tokenizer (tokenizer.model)");
  std::vector<int> ks;
  for (int32_t k : parse_id_list(o.k_list)) {
    HL_CHECK(k > 0, "--k-list: values must be positive");
    ks.push_back(k);
  }
  const std::vector<PromptLine> prompts = read_prompts(o.prompts, o.needle_text);
  HeadStats stats(info.attention_layers(), info.heads, ks);
  for (size_t i = 0; i < prompts.size(); ++i) {
    const std::vector<int32_t> ids = m.tokenizer->encode(prompts[i].prompt, true);
    LensPlan plan;
    plan.record_entropy = plan.record_top1 = true;
    if (!prompts[i].needle.empty()) {
      plan.needle = locate_needle(*m.tokenizer, ids, prompts[i].needle);
      plan.record_mass = true;
    }
    Lens lens(plan, info.attention_layers(), info.heads);
    GenerateOptions g;
    g.max_new_tokens = o.max_new_tokens;
    g.lens = &lens;
    const GenerateResult r = generate_greedy(*m.model, ids, g);
    PromptRecording rec;
    rec.entropy = lens.entropy();
    rec.top1 = lens.top1();
    if (plan.record_mass) rec.mass = lens.needle_mass();
    rec.ids = ids;
    rec.ids.insert(rec.ids.end(), r.new_ids.begin(), r.new_ids.end());
    rec.prompt_length = int64_t(ids.size());
    rec.generated = int64_t(r.new_ids.size());
    rec.needle = plan.needle;
    stats.add(rec);
    std::cerr << "heads: prompt " << i + 1 << "/" << prompts.size() << " (" << ids.size() << " tokens)\n";
  }
  std::filesystem::create_directories(o.out);
  const std::filesystem::path out(o.out);
  stats.write_csv((out / "heads.csv").string());
  write_heatmap_svg((out / "entropy_mean.svg").string(),
                    layer_head_map(stats, "Mean attention entropy (nats)", &HeadStats::entropy_mean));
  write_heatmap_svg((out / "retrieval_score.svg").string(),
                    layer_head_map(stats, "Retrieval score (Wu et al. 2024)", &HeadStats::retrieval_score));
  write_heatmap_svg((out / "needle_mass.svg").string(),
                    layer_head_map(stats, "Attention mass on the needle during generation", &HeadStats::needle_mass));
  std::cerr << "wrote heads.csv, entropy_mean.svg, retrieval_score.svg, needle_mass.svg to " << o.out << "\n";
}

}  // namespace

void add_heads(CLI::App& app) {
  auto opt = std::make_shared<HeadsOptions>();
  CLI::App* cmd = app.add_subcommand("heads", "per-head entropy, top-k membership, needle mass and retrieval score over prompts");
  opt->model.add_to(*cmd);
  cmd->add_option("--prompts", opt->prompts, "JSONL file: {\"prompt\": ..., \"needle\": ... (optional)} per line")
      ->required();
  cmd->add_option("--needle-text", opt->needle_text, "needle located in every prompt that names none");
  cmd->add_option("--k-list", opt->k_list, "k values for the top-k membership shares")->capture_default_str();
  cmd->add_option("--max-new-tokens", opt->max_new_tokens, "greedy tokens generated per prompt")->capture_default_str();
  cmd->add_option("--out", opt->out, "output directory")->capture_default_str();
  cmd->callback([opt] { run(*opt); });
}

}  // namespace hl::cli
