#include "hybridlens/eval/niah_sweep.hpp"

#include "hybridlens/backend/make_backend.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <map>
#include <unordered_map>
#include <unordered_set>
#include <sstream>
#include <nlohmann/json.hpp>

#include "hybridlens/core/error.hpp"
#include "hybridlens/eval/niah_prompt.hpp"
#include "hybridlens/eval/niah_score.hpp"
#include "hybridlens/eval/progress.hpp"
#include "hybridlens/eval/sha256.hpp"
#include "hybridlens/io/json_file.hpp"
#include "hybridlens/lens/lens.hpp"
#include "hybridlens/model/generate.hpp"
#include "hybridlens/model/registry.hpp"

namespace fs = std::filesystem;

namespace hl {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

bool parse_double(const std::string& s, double& v) {
  try {
    size_t used = 0;
    v = std::stod(s, &used);
    return used == s.size() && std::isfinite(v);
  } catch (const std::exception&) {
    return false;
  }
}

template <class T>
std::vector<T> parse_grid(const std::string& text, const std::string& flag, bool integer) {
  std::vector<double> values;
  const size_t colon = text.find(':');
  if (colon != std::string::npos) {
    const size_t colon2 = text.find(':', colon + 1);
    double a = 0, b = 0, n = 0;
    HL_CHECK(colon2 != std::string::npos && parse_double(text.substr(0, colon), a) &&
                 parse_double(text.substr(colon + 1, colon2 - colon - 1), b) && parse_double(text.substr(colon2 + 1), n) &&
                 n >= 1 && n == std::floor(n) && n <= 100000,
             flag, ": expected FROM:TO:COUNT or a comma list, got \"", text, "\"");
    for (int i = 0; i < int(n); ++i) values.push_back(n == 1 ? a : a + (b - a) * double(i) / double(n - 1));
  } else {
    for (const std::string& item : split_list(text, flag)) {
      double v = 0;
      HL_CHECK(parse_double(item, v), flag, ": \"", item, "\" is not a number");
      values.push_back(v);
    }
  }
  std::vector<T> out;
  for (double v : values) {
    if (integer) {
      const double r = std::round(v);
      HL_CHECK(r >= 1 && r < 1e9, flag, ": ", v, " is not a positive number of tokens");
      out.push_back(T(r));
    } else {
      HL_CHECK(v >= 0 && v <= 100, flag, ": ", v, " is outside 0..100 percent");
      out.push_back(T(v));
    }
  }
  return out;
}

// What the resume key of a model depends on, known before the weights are loaded.
struct ModelPlan {
  std::string dir, abs_dir, config_sha256, arch;
  int heads = 0;
  std::unique_ptr<Tokenizer> tokenizer;
  PromptTemplate tmpl;
  std::vector<Intervention> interventions;
  std::vector<PrefillGroup> groups;
  struct Prompt {
    const Needle* needle;
    int64_t length;
    double depth;
    NiahPromptResult p;
    std::string sha256;
    std::vector<std::string> keys;  // per intervention
  };
  std::vector<Prompt> prompts;
};

int heads_from_config(const std::string& dir, const std::string& arch) {
  if (arch == "mamba") return 0;
  const nlohmann::json j = read_json_file((fs::path(dir) / "config.json").string());
  HL_CHECK(j.contains("num_attention_heads") && j["num_attention_heads"].is_number_integer(), dir,
           "/config.json: no integer num_attention_heads");
  return j["num_attention_heads"].get<int>();
}

PromptTemplate choose_template(const std::string& choice, const std::string& dir, const std::string& arch) {
  const bool jamba = arch == "jamba";
  if (choice == "base") return base_template();
  if (choice == "chat") {
    HL_CHECK(jamba, dir, ": --template chat: no built-in chat template for ", arch,
             " checkpoints (give the rendered chat format as --template FILE with {context} and {question})");
    return jamba_chat_template();
  }
  if (choice == "auto") {
    if (jamba) {
      const fs::path tc = fs::path(dir) / "tokenizer_config.json";
      if (fs::exists(tc)) {
        const nlohmann::json j = read_json_file(tc.string());
        if (j.contains("chat_template")) return jamba_chat_template();
      }
    }
    return base_template();
  }
  return read_template_file(choice);
}

std::string cell_key(const ModelPlan& m, const ModelPlan::Prompt& pr, const NiahSweepConfig& cfg,
                     const Intervention& iv) {
  nlohmann::json j;
  j["model_dir"] = m.abs_dir;
  j["config_sha256"] = m.config_sha256;
  j["prompt_sha256"] = pr.sha256;
  j["haystack_sha256"] = cfg.haystack.sha256;
  j["needle"] = pr.needle->needle;
  j["question"] = pr.needle->question;
  j["answer"] = pr.needle->answer;
  j["partial"] = pr.needle->partial;
  j["template_sha256"] = sha256_hex(m.tmpl.text);
  j["length"] = pr.length;
  j["depth"] = pr.depth;
  j["buffer"] = cfg.buffer;
  j["jrt"] = cfg.jrt;
  j["keep_k"] = iv.record.keep_k;
  j["rank"] = iv.record.rank;
  if (iv.plan.rank == HeadRank::Fixed) j["fixed_heads"] = iv.plan.fixed;  // the file's content, not its name
  j["sparsify"] = iv.record.sparsify;
  j["prefill_manipulation"] = iv.record.prefill_manipulation;
  j["generation_manipulation"] = iv.record.generation_manipulation;
  j["binary_layer_mean"] = iv.record.binary_layer_mean;
  j["max_new_tokens"] = cfg.max_new_tokens;
  j["stop_at_eos"] = cfg.stop_at_eos;
  j["kind"] = "niah/1";
  return sha256_hex(j.dump());
}

std::string config_label(const std::string& model, const InterventionRecord& r) {
  std::ostringstream s;
  s << model << "  k=" << (r.keep_k < 0 ? "file" : r.keep_k >= r.heads ? "all" : std::to_string(r.keep_k)) << "  rank=" << r.rank
    << "  sparsify=" << r.sparsify << "  prefill=" << r.prefill_manipulation
    << "  generation=" << r.generation_manipulation;
  return s.str();
}

// The text of generated ids. A model may have more embedding rows than its tokenizer has pieces (padded
// vocabularies); ids beyond the tokenizer have no text and are left out of it (they stay in output_ids).
std::string decode_output(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  std::vector<int32_t> known;
  known.reserve(ids.size());
  for (int32_t id : ids)
    if (id >= 0 && id < tok.vocab_size()) known.push_back(id);
  return tok.decode(known);
}

std::unique_ptr<Lens> make_lens(const LensPlan& base, const NeedleSpan& needle, int attention_layers, int heads,
                                bool record_entropy) {
  LensPlan p = base;
  p.record_entropy = record_entropy;
  if (p.is_identity() || attention_layers == 0) return nullptr;
  p.needle = needle;
  return std::make_unique<Lens>(std::move(p), attention_layers, heads);
}

// Adds a lens's recorded entropy over positions [from, to) into per-(layer, head) sums.
void add_entropy(const Lens* lens, int64_t from, int64_t to, std::vector<double>& sum, int64_t& positions) {
  if (lens == nullptr || to <= from) return;
  const Tensor e = lens->entropy();  // [layers, heads, P]
  const int64_t P = e.shape()[2];
  HL_CHECK(to <= P, "niah: entropy recorded for ", P, " positions, asked for ", to);
  const float* v = static_cast<const float*>(e.raw());
  sum.resize(size_t(e.shape()[0] * e.shape()[1]), 0.0);
  for (size_t lh = 0; lh < sum.size(); ++lh)
    for (int64_t t = from; t < to; ++t) sum[lh] += v[int64_t(lh) * P + t];
  positions += to - from;
}

// The entropy of a prefill [0, prompt) from one lens and of the generated positions from another.
HeadEntropyRecord entropy_record(const Lens* prefill, const Lens* decode, int64_t prompt, int layers, int heads) {
  HeadEntropyRecord r;
  if (prefill == nullptr || !prefill->plan().record_entropy) return r;  // not asked for (or no attention)
  r.attention_layers = layers;
  r.heads = heads;
  r.prompt_sum.assign(size_t(layers) * size_t(heads), 0.0);
  r.generation_sum = r.prompt_sum;
  add_entropy(prefill, 0, prompt, r.prompt_sum, r.prompt_positions);
  if (decode != nullptr) add_entropy(decode, prompt, decode->positions(), r.generation_sum, r.generation_positions);
  return r;
}

}  // namespace

std::vector<int64_t> default_lengths() { return parse_grid<int64_t>("250:4096:10", "--lengths", true); }
std::vector<double> default_depths() { return parse_grid<double>("0:100:10", "--depths", false); }
std::vector<int64_t> parse_lengths(const std::string& text) { return parse_grid<int64_t>(text, "--lengths", true); }
std::vector<double> parse_depths(const std::string& text) { return parse_grid<double>(text, "--depths", false); }

NiahSweepStats run_niah_sweep(const NiahSweepConfig& cfg, ResultsDb& db, std::ostream& out, std::ostream& log,
                              bool tty) {
  HL_CHECK(!cfg.models.empty(), "niah: give at least one --model");
  HL_CHECK(!cfg.needles.empty() && !cfg.lengths.empty() && !cfg.depths.empty(), "niah: empty grid");
  HL_CHECK(cfg.max_new_tokens > 0, "--max-new-tokens must be positive");
  if (cfg.jrt)
    for (Manipulation m : cfg.axes.prefill_manipulation)
      for (Manipulation g : cfg.axes.generation_manipulation)
        for (Manipulation x : {m, g})
          HL_CHECK(x == Manipulation::Keep || x == Manipulation::Null, "--jrt with the ", manipulation_name(x),
                   " manipulation: under JRT the needle appears twice and a manipulation acts on one token span; "
                   "run manipulations without --jrt");
  NiahSweepStats stats;
  const auto t_start = std::chrono::steady_clock::now();

  // Plan every model first: tokenizer, template, prompts and keys, so that bad input fails before any cell.
  std::vector<ModelPlan> plans;
  int64_t max_len = 0;
  for (int64_t L : cfg.lengths) max_len = std::max(max_len, L);
  for (const std::string& dir : cfg.models) {
    ModelPlan m;
    m.dir = dir;
    require_checkpoint_directory(dir);
    std::error_code ec;
    m.abs_dir = fs::weakly_canonical(fs::absolute(dir), ec).string();
    if (ec) m.abs_dir = fs::absolute(dir).string();
    m.config_sha256 = sha256_file((fs::path(dir) / "config.json").string());
    m.arch = architecture_of(dir);
    m.heads = heads_from_config(dir, m.arch);
    HL_CHECK(fs::exists(fs::path(dir) / "tokenizer.model"), dir,
             ": niah needs the model's SentencePiece tokenizer.model to measure lengths and decode answers");
    m.tokenizer = Tokenizer::load_dir(dir);
    m.tmpl = choose_template(cfg.template_choice, dir, m.arch);
    m.interventions = expand_interventions(cfg.axes, m.heads);
    m.groups = group_interventions(m.interventions);
    const HaystackTokens hay(*m.tokenizer, cfg.haystack, max_len);
    for (const Needle& n : cfg.needles)
      for (int64_t L : cfg.lengths)
        for (double d : cfg.depths) {
          ModelPlan::Prompt pr{&n, L, d, {}, {}, {}};
          NiahPromptSpec spec;
          spec.length = L;
          spec.depth_percent = d;
          spec.buffer = cfg.buffer;
          spec.jrt = cfg.jrt;
          try {
            pr.p = build_niah_prompt(*m.tokenizer, hay, n, m.tmpl, spec);
          } catch (const Error& e) {
            fail(dir, ": ", e.what());
          }
          pr.sha256 = sha256_hex(std::span<const int32_t>(pr.p.ids));
          for (const Intervention& iv : m.interventions) pr.keys.push_back(cell_key(m, pr, cfg, iv));
          m.prompts.push_back(std::move(pr));
        }
    plans.push_back(std::move(m));
  }

  // What is stored already.
  // With --record-entropy, a cell stored without its entropy is computed again for it.
  const std::unordered_set<std::string> done = cfg.record_entropy ? db.niah_keys_with_entropy() : db.niah_keys();
  int64_t todo = 0;
  PlanCounts shared_counts;  // over the whole grid; identical prompts (depths that snap to the same
                             // sentence) share their prefills and decodes too
  for (const ModelPlan& m : plans) {
    std::unordered_set<std::string> prefills, decodes;
    for (const auto& pr : m.prompts) {
      stats.planned += int64_t(pr.keys.size());
      for (const std::string& k : pr.keys) todo += done.count(k) ? 0 : 1;
      for (const Intervention& iv : m.interventions) {
        prefills.insert(pr.sha256 + "|" + iv.prefill_key);
        decodes.insert(pr.sha256 + "|" + pr.needle->id + "|" + iv.decode_key);
      }
    }
    shared_counts.cells += int64_t(m.interventions.size() * m.prompts.size());
    shared_counts.prefills += int64_t(prefills.size());
    shared_counts.decodes += int64_t(decodes.size());
  }
  stats.skipped = stats.planned - todo;
  log << "niah: prompts built and keyed in " << format_duration(seconds_since(t_start)) << "\n";
  log << "niah: " << stats.planned << " cells (" << plans.size() << " model(s) x " << cfg.needles.size()
      << " needle(s) x " << cfg.lengths.size() << " lengths x " << cfg.depths.size() << " depths x interventions); "
      << stats.skipped << " already in " << db.path() << ", " << todo << " to run";
  if (cfg.share)
    log << "; planner: " << shared_counts.prefills << " prefills and " << shared_counts.decodes
        << " decodes for the whole grid instead of " << shared_counts.cells << " each";
  log << "\n";

  const int64_t run_id = db.begin_run("niah", cfg.command_line, cfg.threads);
  // Accuracy per (model, intervention) over this sweep's cells, including those stored before.
  std::map<std::string, std::pair<int64_t, std::pair<int64_t, double>>> acc;  // label -> (cells, (correct, score))
  std::vector<std::string> label_order;
  auto tally = [&](const std::string& label, double score) {
    auto [it, fresh] = acc.try_emplace(label);
    if (fresh) label_order.push_back(label);
    it->second.first += 1;
    it->second.second.first += score >= 5 ? 1 : 0;
    it->second.second.second += score;
  };
  SqliteStatement stored_score = db.sql().prepare("SELECT score FROM niah_cells WHERE cell_key = ?");

  {
    Progress progress("niah", "cells", todo, log, tty);
    for (ModelPlan& m : plans) {
      const std::string mname = fs::path(m.abs_dir).filename().string();
      // Stored cells only count towards the table.
      bool any = false;
      for (const auto& pr : m.prompts)
        for (size_t i = 0; i < pr.keys.size(); ++i) {
          if (!done.count(pr.keys[i])) {
            any = true;
            continue;
          }
          stored_score.reset();
          stored_score.bind(1, pr.keys[i]);
          if (stored_score.step()) tally(config_label(mname, m.interventions[i].record), stored_score.real(0));
        }
      if (!any) continue;

      std::unique_ptr<Backend> backend = make_backend(cfg.device);
      std::unique_ptr<Model> model = load_model(m.dir, *backend);
      const ModelInfo& info = model->info();
      HL_CHECK(info.heads == m.heads, m.dir, ": the model reports ", info.heads, " heads per layer, config.json ",
               m.heads);
      const int64_t model_id = db.model_id(describe_model(m.dir, info));
      const int layers = info.attention_layers();
      const Tokenizer& tok = *m.tokenizer;

      // Decodes already run in this sweep for an identical prompt (two requested depths can snap to the
      // same sentence): prompt hash | needle | decode key -> result.
      struct Decoded {
        GenerateResult r;
        std::string text;
        NiahScore score;
        double prefill_s = 0;
        HeadEntropyRecord entropy;
      };
      std::unordered_map<std::string, Decoded> decoded;
      for (const auto& pr : m.prompts) {
        auto missing = [&](size_t i) { return !done.count(pr.keys[i]); };
        auto decoded_key = [&](size_t i) { return pr.sha256 + "|" + pr.needle->id + "|" + m.interventions[i].decode_key; };
        auto store = [&](size_t i, const GenerateResult& r, const std::string& text, const NiahScore& sc,
                         const std::string& group, bool prefill_shared, bool decode_shared, double prefill_s,
                         double fork_s, const HeadEntropyRecord& entropy) {
          const Intervention& iv = m.interventions[i];
          NiahCellRecord c;
          c.cell_key = pr.keys[i];
          c.run_id = run_id;
          c.model_id = model_id;
          c.haystack = cfg.haystack.label;
          c.haystack_sha256 = cfg.haystack.sha256;
          c.needle_id = pr.needle->id;
          c.needle = pr.needle->needle;
          c.question = pr.needle->question;
          c.template_name = m.tmpl.name;
          c.template_sha256 = sha256_hex(m.tmpl.text);
          c.jrt = cfg.jrt;
          c.context_length = pr.length;
          c.depth_percent = pr.depth;
          c.buffer_tokens = cfg.buffer;
          c.context_tokens = pr.p.context_tokens;
          c.prompt_tokens = int64_t(pr.p.ids.size());
          c.prompt_sha256 = pr.sha256;
          c.needle_begin = pr.p.needle.begin;
          c.needle_end = pr.p.needle.end;
          c.needle_depth_actual = pr.p.needle_depth_actual;
          c.lens = iv.record;
          c.max_new_tokens = cfg.max_new_tokens;
          c.output_ids = r.new_ids;
          c.output_text = text;
          c.stopped_at_eos = cfg.stop_at_eos && !r.new_ids.empty() && r.new_ids.back() == info.eos_id;
          c.score = sc.score;
          c.answer_found = sc.answer_found;
          c.prefill_group = sha256_hex(m.abs_dir + "|" + pr.sha256 + "|" + iv.prefill_key).substr(0, 16);
          c.prefill_shared = prefill_shared;
          c.decode_shared = decode_shared;
          c.prefill_seconds = prefill_s;
          c.fork_seconds = fork_s;
          c.decode_seconds = r.decode_seconds;
          c.head_entropy = entropy;
          db.insert_niah_cell(c);
          tally(config_label(mname, iv.record), sc.score);
          ++stats.computed;
          progress.advance();
        };
        GenerateOptions g;
        g.max_new_tokens = cfg.max_new_tokens;
        g.stop_at_eos = cfg.stop_at_eos;

        if (!cfg.share) {
          for (size_t i = 0; i < m.interventions.size(); ++i) {
            if (!missing(i)) continue;
            const auto lens = make_lens(m.interventions[i].plan, pr.p.needle, layers, info.heads, cfg.record_entropy);
            g.lens = lens.get();
            const GenerateResult r = generate_greedy(*model, pr.p.ids, g);
            ++stats.prefills;
            ++stats.decodes;
            const std::string text = decode_output(tok, r.new_ids);
            const int64_t P = int64_t(pr.p.ids.size());
            store(i, r, text, score_output(text, *pr.needle), m.interventions[i].prefill_key, false, false,
                  r.prefill_seconds, 0, entropy_record(lens.get(), lens.get(), P, layers, info.heads));
          }
          continue;
        }

        for (const PrefillGroup& group : m.groups) {
          std::vector<const std::vector<size_t>*> decodes;
          for (const auto& d : group.decodes) {
            bool any_missing = false;
            for (size_t i : d) any_missing = any_missing || missing(i);
            if (!any_missing) continue;
            auto hit = decoded.find(decoded_key(d.front()));
            if (hit == decoded.end()) {
              decodes.push_back(&d);
              continue;
            }
            for (size_t i : d)  // an identical prompt was decoded already: copy its result
              if (missing(i))
                store(i, hit->second.r, hit->second.text, hit->second.score, group.key, true, true,
                      hit->second.prefill_s, 0, hit->second.entropy);
          }
          if (decodes.empty()) continue;
          const Intervention& first = m.interventions[decodes.front()->front()];
          const auto prefill_lens =
              make_lens(first.prefill_plan, pr.p.needle, layers, info.heads, cfg.record_entropy);
          DecodeState state = model->new_state();
          const auto t0 = std::chrono::steady_clock::now();
          const std::vector<float> logits =
              model->forward(state, pr.p.ids, Phase::Prefill, LogitsWanted::Last, prefill_lens.get());
          const double prefill_s = seconds_since(t0);
          ++stats.prefills;
          // Every decode of the group continues its own fork of the prefilled state (the last one the state
          // itself); the forks then decode together, one batched forward per step.
          std::vector<DecodeState> forks(decodes.size());
          std::vector<DecodeState*> fork_ptrs;
          std::vector<double> fork_seconds;
          std::vector<std::unique_ptr<Lens>> lenses;
          std::vector<GenerateOptions> opts;
          for (size_t di = 0; di < decodes.size(); ++di) {
            const bool last = di + 1 == decodes.size();
            const auto tf = std::chrono::steady_clock::now();
            if (!last) forks[di] = state.fork(*backend);
            fork_seconds.push_back(last ? 0.0 : seconds_since(tf));
            fork_ptrs.push_back(last ? &state : &forks[di]);
            lenses.push_back(make_lens(m.interventions[decodes[di]->front()].plan, pr.p.needle, layers, info.heads,
                                       cfg.record_entropy));
            opts.push_back(g);
            opts.back().lens = lenses.back().get();
          }
          const std::vector<std::span<const float>> last_logits(decodes.size(), std::span<const float>(logits));
          const std::vector<GenerateResult> results = continue_greedy_batch(*model, fork_ptrs, last_logits, opts);
          for (size_t di = 0; di < decodes.size(); ++di) {
            const std::vector<size_t>& cells = *decodes[di];
            const double fork_s = fork_seconds[di];
            const auto& lens = lenses[di];
            const GenerateResult& r = results[di];
            ++stats.decodes;
            const std::string text = decode_output(tok, r.new_ids);
            const NiahScore sc = score_output(text, *pr.needle);
            const HeadEntropyRecord entropy =
                entropy_record(prefill_lens.get(), lens.get(), int64_t(pr.p.ids.size()), layers, info.heads);
            decoded[decoded_key(cells.front())] = Decoded{r, text, sc, prefill_s, entropy};
            const bool group_shared = decodes.size() > 1 || cells.size() > 1;
            bool first_cell = true;
            for (size_t i : cells) {
              if (!missing(i)) continue;
              store(i, r, text, sc, group.key, group_shared, !first_cell, prefill_s, fork_s, entropy);
              first_cell = false;
            }
          }
        }
      }
    }
  }
  stats.seconds = seconds_since(t_start);
  db.finish_run(run_id, stats.planned, stats.skipped, stats.computed);

  out << "accuracy (share of cells scoring 5) per configuration:\n";
  for (const std::string& label : label_order) {
    const auto& [cells, cs] = acc[label];
    out << "  " << label << "  accuracy " << std::fixed << std::setprecision(3) << double(cs.first) / double(cells)
        << "  mean score " << std::setprecision(2) << cs.second / double(cells) << "  (" << cells << " cells)\n";
    out.unsetf(std::ios::floatfield);
  }
  log << "niah: " << stats.computed << " cells run (" << stats.prefills << " prefills, " << stats.decodes
      << " decodes) in " << format_duration(stats.seconds) << "; results in " << db.path() << "\n";
  return stats;
}

}  // namespace hl
