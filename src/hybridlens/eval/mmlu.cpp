#include "hybridlens/eval/mmlu.hpp"

#include "hybridlens/backend/make_backend.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "hybridlens/core/error.hpp"
#include "hybridlens/eval/csv.hpp"
#include "hybridlens/eval/progress.hpp"
#include "hybridlens/eval/sha256.hpp"
#include "hybridlens/io/json_file.hpp"
#include "hybridlens/lens/lens.hpp"
#include "hybridlens/model/registry.hpp"

namespace fs = std::filesystem;

namespace hl {
namespace {

constexpr const char* kLetters = "ABCD";

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  HL_CHECK(f.good(), path, ": cannot read");
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::string absolute_path(const std::string& p) {
  std::error_code ec;
  const fs::path a = fs::weakly_canonical(fs::absolute(p), ec);
  return ec ? fs::absolute(p).string() : a.string();
}

struct SubjectData {
  std::string name;
  std::vector<MmluQuestion> shots, test;
  std::string prefix;
};

struct Item {
  size_t subject;
  size_t question;
  std::vector<int32_t> ids;
  size_t shared_prefix = 0;  // tokens shared with the subject's prefix (0: not shareable)
  std::string sha256;
  std::vector<std::string> keys;  // per intervention
};

}  // namespace

std::vector<MmluQuestion> read_mmlu_csv(const std::string& path) {
  const std::vector<CsvRecord> records = parse_csv(read_text(path), path);
  std::vector<MmluQuestion> out;
  for (const CsvRecord& r : records) {
    HL_CHECK(r.fields.size() == 6, path, ":", r.line, ": expected 6 columns (question, A, B, C, D, answer), got ",
             r.fields.size());
    MmluQuestion q;
    q.question = r.fields[0];
    for (int i = 0; i < 4; ++i) q.choices[size_t(i)] = r.fields[size_t(i) + 1];
    const std::string a = trim(r.fields[5]);
    HL_CHECK(a.size() == 1 && a[0] >= 'A' && a[0] <= 'D', path, ":", r.line, ": answer \"", r.fields[5],
             "\" is not one of A, B, C, D");
    q.answer = a[0];
    q.line = r.line;
    out.push_back(std::move(q));
  }
  return out;
}

std::string mmlu_data_root(const std::string& dir) {
  HL_CHECK(fs::is_directory(dir), dir, ": not a directory (--data wants the MMLU data directory)");
  if (fs::is_directory(fs::path(dir) / "test")) return dir;
  if (fs::is_directory(fs::path(dir) / "data" / "test")) return (fs::path(dir) / "data").string();
  fail(dir, ": no test/ directory (expected the original MMLU layout: dev/{subject}_dev.csv, test/{subject}_test.csv)");
}

std::vector<std::string> mmlu_subjects(const std::string& root) {
  std::vector<std::string> out;
  const std::string suffix = "_test.csv";
  for (const auto& e : fs::directory_iterator(fs::path(root) / "test")) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(name.substr(0, name.size() - suffix.size()));
  }
  std::sort(out.begin(), out.end());
  HL_CHECK(!out.empty(), root, "/test: no {subject}_test.csv files");
  return out;
}

std::string format_subject(const std::string& subject) {
  std::string s = subject;
  std::replace(s.begin(), s.end(), '_', ' ');
  return s;
}

std::string mmlu_question_text(const MmluQuestion& q) {
  std::string s = q.question;
  for (int i = 0; i < 4; ++i) s += std::string("\n") + kLetters[i] + ". " + q.choices[size_t(i)];
  return s + "\nAnswer:";
}

std::string mmlu_prompt_prefix(const std::string& subject, const std::vector<MmluQuestion>& shots) {
  std::string s = "The following are multiple choice questions (with answers) about " + format_subject(subject) + ".\n\n";
  for (const MmluQuestion& q : shots) s += mmlu_question_text(q) + " " + q.answer + "\n\n";
  return s;
}

std::array<int32_t, 4> answer_letter_ids(const Tokenizer& tok) {
  std::array<int32_t, 4> ids{};
  const std::vector<int32_t> base = tok.encode("Answer:", false);
  for (int i = 0; i < 4; ++i) {
    const std::vector<int32_t> with = tok.encode(std::string("Answer: ") + kLetters[i], false);
    const bool one = with.size() == base.size() + 1 && std::equal(base.begin(), base.end(), with.begin());
    HL_CHECK(one, tok.path(), ": the tokenizer does not encode \" ", kLetters[i],
             "\" after \"Answer:\" as a single token, so the answer letters cannot be scored by their next-token "
             "log-probability");
    ids[size_t(i)] = with.back();
  }
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < i; ++j)
      HL_CHECK(ids[size_t(i)] != ids[size_t(j)], tok.path(), ": \" ", kLetters[i], "\" and \" ", kLetters[j],
               "\" are the same token");
  return ids;
}

MmluStats run_mmlu(const MmluConfig& cfg, ResultsDb& db, std::ostream& out, std::ostream& log, bool tty) {
  HL_CHECK(!cfg.models.empty(), "mmlu: give at least one --model");
  HL_CHECK(cfg.shots >= 0 && cfg.shots <= 5, "--shots must be 0..5 (the dev split holds 5 per subject)");
  for (Manipulation m : cfg.axes.prefill_manipulation)
    HL_CHECK(m == Manipulation::Keep || m == Manipulation::Null, "--prefill-manipulation ", manipulation_name(m),
             " acts on a needle span, and MMLU prompts have none (keep and null are allowed)");
  for (Manipulation m : cfg.axes.generation_manipulation)
    HL_CHECK(m == Manipulation::Keep || m == Manipulation::Null, "--generation-manipulation ", manipulation_name(m),
             " acts on a needle span, and MMLU prompts have none (keep and null are allowed)");
  const auto t_start = std::chrono::steady_clock::now();
  MmluStats stats;

  // Data first: every file is read and checked before any model runs.
  const std::string root = mmlu_data_root(cfg.data_dir);
  const std::string root_abs = absolute_path(root);
  const std::vector<std::string> available = mmlu_subjects(root);
  std::vector<SubjectData> subjects;
  for (const std::string& name : cfg.subjects.empty() ? available : cfg.subjects) {
    HL_CHECK(std::find(available.begin(), available.end(), name) != available.end(), "--subjects: no ", root,
             "/test/", name, "_test.csv");
    SubjectData s;
    s.name = name;
    s.test = read_mmlu_csv((fs::path(root) / "test" / (name + "_test.csv")).string());
    HL_CHECK(!s.test.empty(), root, "/test/", name, "_test.csv: no questions");
    if (cfg.max_questions >= 0 && int64_t(s.test.size()) > cfg.max_questions) s.test.resize(size_t(cfg.max_questions));
    if (cfg.shots > 0) {
      const std::string dev = (fs::path(root) / "dev" / (name + "_dev.csv")).string();
      HL_CHECK(fs::exists(dev), dev, ": missing (needed for --shots ", cfg.shots, "; use --shots 0 without it)");
      s.shots = read_mmlu_csv(dev);
      HL_CHECK(int(s.shots.size()) >= cfg.shots, dev, ": holds ", s.shots.size(), " questions, --shots asks for ",
               cfg.shots);
      s.shots.resize(size_t(cfg.shots));
    }
    s.prefix = mmlu_prompt_prefix(name, s.shots);
    subjects.push_back(std::move(s));
  }

  struct ModelPlan {
    std::string dir, abs_dir, config_sha256, arch;
    int heads = 0;
    std::unique_ptr<Tokenizer> tok;
    std::array<int32_t, 4> letters{};
    std::vector<Intervention> interventions;
    std::vector<std::vector<int32_t>> prefix_ids;  // per subject
    std::vector<Item> items;
  };
  std::vector<ModelPlan> plans;
  for (const std::string& dir : cfg.models) {
    ModelPlan m;
    m.dir = dir;
    require_checkpoint_directory(dir);
    m.abs_dir = absolute_path(dir);
    m.config_sha256 = sha256_file((fs::path(dir) / "config.json").string());
    m.arch = architecture_of(dir);
    if (m.arch != "mamba") {
      const nlohmann::json j = read_json_file((fs::path(dir) / "config.json").string());
      m.heads = j.value("num_attention_heads", 0);
    }
    HL_CHECK(fs::exists(fs::path(dir) / "tokenizer.model"), dir, ": mmlu needs the model's tokenizer.model");
    m.tok = Tokenizer::load_dir(dir);
    m.letters = answer_letter_ids(*m.tok);
    m.interventions = expand_interventions(cfg.axes, m.heads);
    for (size_t s = 0; s < subjects.size(); ++s) {
      std::vector<int32_t> pre = m.tok->encode(subjects[s].prefix, true);
      for (size_t q = 0; q < subjects[s].test.size(); ++q) {
        Item it;
        it.subject = s;
        it.question = q;
        it.ids = m.tok->encode(subjects[s].prefix + mmlu_question_text(subjects[s].test[q]), true);
        if (cfg.share_prefix && pre.size() > 1 && it.ids.size() > pre.size() && std::equal(pre.begin(), pre.end(), it.ids.begin()))
          it.shared_prefix = pre.size();
        it.sha256 = sha256_hex(std::span<const int32_t>(it.ids));
        for (const Intervention& iv : m.interventions) {
          nlohmann::json j;
          j["kind"] = "mmlu/1";
          j["model_dir"] = m.abs_dir;
          j["config_sha256"] = m.config_sha256;
          j["data_dir"] = root_abs;
          j["subject"] = subjects[s].name;
          j["question_index"] = q;
          j["shots"] = cfg.shots;
          j["prompt_sha256"] = it.sha256;
          j["keep_k"] = iv.record.keep_k;
          j["rank"] = iv.record.rank;
          if (iv.plan.rank == HeadRank::Fixed) j["fixed_heads"] = iv.plan.fixed;
          j["sparsify"] = iv.record.sparsify;
          j["prefill_manipulation"] = iv.record.prefill_manipulation;
          j["generation_manipulation"] = iv.record.generation_manipulation;
          j["binary_layer_mean"] = iv.record.binary_layer_mean;
          it.keys.push_back(sha256_hex(j.dump()));
        }
        m.items.push_back(std::move(it));
      }
      m.prefix_ids.push_back(std::move(pre));
    }
    plans.push_back(std::move(m));
  }

  const std::unordered_set<std::string> done = db.mmlu_keys();
  int64_t todo = 0;
  for (const ModelPlan& m : plans)
    for (const Item& it : m.items) {
      stats.planned += int64_t(it.keys.size());
      for (const std::string& k : it.keys) todo += done.count(k) ? 0 : 1;
    }
  stats.skipped = stats.planned - todo;
  log << "mmlu: " << stats.planned << " items (" << plans.size() << " model(s) x " << subjects.size()
      << " subject(s) x interventions, " << cfg.shots << "-shot); " << stats.skipped << " already in " << db.path()
      << ", " << todo << " to run\n";
  const int64_t run_id = db.begin_run("mmlu", cfg.command_line, cfg.threads);

  // label -> subject -> (questions, correct)
  std::map<std::string, std::map<std::string, std::pair<int64_t, int64_t>>> acc;
  std::vector<std::string> label_order;
  auto tally = [&](const std::string& label, const std::string& subject, bool correct) {
    if (!acc.count(label)) label_order.push_back(label);
    auto& e = acc[label][subject];
    e.first += 1;
    e.second += correct ? 1 : 0;
  };
  auto label_of = [](const ModelPlan& m, const InterventionRecord& r) {
    std::ostringstream s;
    s << fs::path(m.abs_dir).filename().string() << "  k=" << (r.keep_k < 0 ? "file" : r.keep_k >= r.heads ? "all" : std::to_string(r.keep_k))
      << "  rank=" << r.rank << "  sparsify=" << r.sparsify << "  prefill=" << r.prefill_manipulation
      << "  generation=" << r.generation_manipulation;
    return s.str();
  };
  SqliteStatement stored = db.sql().prepare("SELECT correct FROM mmlu_items WHERE item_key = ?");

  {
    Progress progress("mmlu", "items", todo, log, tty);
    for (ModelPlan& m : plans) {
      bool any = false;
      for (const Item& it : m.items)
        for (size_t i = 0; i < it.keys.size(); ++i) {
          if (!done.count(it.keys[i])) {
            any = true;
            continue;
          }
          stored.reset();
          stored.bind(1, it.keys[i]);
          if (stored.step())
            tally(label_of(m, m.interventions[i].record), subjects[it.subject].name, stored.int64(0) != 0);
        }
      if (!any) continue;
      std::unique_ptr<Backend> backend = make_backend(cfg.device);
      std::unique_ptr<Model> model = load_model(m.dir, *backend);
      const ModelInfo& info = model->info();
      HL_CHECK(info.heads == m.heads, m.dir, ": the model reports ", info.heads, " heads per layer, config.json ",
               m.heads);
      const int64_t model_id = db.model_id(describe_model(m.dir, info));
      const int64_t V = info.vocab;

      for (size_t iv_i = 0; iv_i < m.interventions.size(); ++iv_i) {
        const Intervention& iv = m.interventions[iv_i];
        std::unique_ptr<Lens> lens;
        if (!iv.plan.is_identity() && info.attention_layers() > 0)
          lens = std::make_unique<Lens>(iv.plan, info.attention_layers(), info.heads);
        nlohmann::json ck;
        ck["model_dir"] = m.abs_dir;
        ck["config_sha256"] = m.config_sha256;
        ck["data_dir"] = root_abs;
        ck["shots"] = cfg.shots;
        ck["setting"] = iv.setting_key;
        if (iv.plan.rank == HeadRank::Fixed) ck["fixed_heads"] = iv.plan.fixed;
        const std::string config_key = sha256_hex(ck.dump());

        size_t prefix_subject = SIZE_MAX;
        DecodeState prefix_state;
        for (const Item& it : m.items) {
          if (done.count(it.keys[iv_i])) continue;
          const auto t0 = std::chrono::steady_clock::now();
          DecodeState st;
          std::span<const int32_t> rest(it.ids);
          if (it.shared_prefix > 0) {
            if (prefix_subject != it.subject) {
              prefix_state = model->new_state();
              const std::vector<int32_t>& pre = m.prefix_ids[it.subject];
              model->forward(prefix_state, pre, Phase::Prefill, LogitsWanted::None, lens.get());
              prefix_subject = it.subject;
            }
            st = prefix_state.fork(*backend);
            rest = rest.subspan(it.shared_prefix);
          } else {
            st = model->new_state();
          }
          if (rest.size() > 1) model->forward(st, rest.first(rest.size() - 1), Phase::Prefill, LogitsWanted::None, lens.get());
          const std::vector<float> logits =
              model->forward(st, rest.last(1), Phase::Generation, LogitsWanted::Last, lens.get());
          HL_CHECK(int64_t(logits.size()) == V, "mmlu: expected ", V, " logits");
          double mx = -INFINITY;
          for (float v : logits) mx = std::max(mx, double(v));
          double z = 0;
          for (float v : logits) z += std::exp(double(v) - mx);
          const double lse = mx + std::log(z);
          MmluItemRecord r;
          int best = 0;
          for (int c = 0; c < 4; ++c) {
            r.logprob[c] = double(logits[size_t(m.letters[size_t(c)])]) - lse;
            if (r.logprob[c] > r.logprob[best]) best = c;
          }
          const MmluQuestion& q = subjects[it.subject].test[it.question];
          r.item_key = it.keys[iv_i];
          r.config_key = config_key;
          r.run_id = run_id;
          r.model_id = model_id;
          r.data_dir = root_abs;
          r.subject = subjects[it.subject].name;
          r.question_index = int64_t(it.question);
          r.shots = cfg.shots;
          r.lens = iv.record;
          r.prompt_tokens = int64_t(it.ids.size());
          r.prompt_sha256 = it.sha256;
          r.answer = q.answer;
          r.predicted = kLetters[best];
          r.prefix_shared = it.shared_prefix > 0;
          r.seconds = seconds_since(t0);
          db.insert_mmlu_item(r);
          tally(label_of(m, iv.record), r.subject, r.answer == r.predicted);
          ++stats.computed;
          progress.advance();
        }
      }
    }
  }
  stats.seconds = seconds_since(t_start);
  db.finish_run(run_id, stats.planned, stats.skipped, stats.computed);

  for (const std::string& label : label_order) {
    out << label << "\n";
    int64_t n = 0, c = 0;
    double subject_sum = 0;
    for (const auto& [subject, e] : acc[label]) {
      out << "  " << std::left << std::setw(40) << subject << std::right << std::fixed << std::setprecision(3)
          << double(e.second) / double(e.first) << "  (" << e.second << "/" << e.first << ")\n";
      n += e.first;
      c += e.second;
      subject_sum += double(e.second) / double(e.first);
    }
    out << "  " << std::left << std::setw(40) << "overall" << std::right << std::fixed << std::setprecision(3)
        << double(c) / double(n) << "  (" << c << "/" << n << "; mean over " << acc[label].size() << " subjects "
        << subject_sum / double(acc[label].size()) << ")\n";
    out.unsetf(std::ios::floatfield);
  }
  log << "mmlu: " << stats.computed << " items run in " << format_duration(stats.seconds) << "; results in "
      << db.path() << "\n";
  return stats;
}

}  // namespace hl
