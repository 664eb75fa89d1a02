// hybridlens mmlu: MMLU log-likelihood accuracy (METHOD.md) under the same interventions as niah, stored
// item by item in the results database and resumed on rerun.
#include <iostream>

#include "hybridlens/cli/commands.hpp"
#include "hybridlens/cli/common.hpp"
#include "hybridlens/core/parallel.hpp"
#include "hybridlens/eval/command_line.hpp"
#include "hybridlens/eval/mmlu.hpp"
#include "hybridlens/eval/progress.hpp"

namespace hl::cli {
namespace {

struct MmluCliOptions {
  std::vector<std::string> models;
  int threads = 0;
  std::string device = "cpu";
  std::string data;
  int shots = 5;
  std::string subjects;
  int64_t max_questions = -1;
  std::string keep = "all";
  std::string rank = "entropy-low";
  std::string sparsify = "both";
  std::string prefill_manipulation = "keep";
  std::string generation_manipulation = "keep";
  std::string db = "results/hybridlens.db";
  bool progress_lines = false;
  bool no_share = false;
};

void run(const MmluCliOptions& o) {
  set_num_threads(o.threads);
  MmluConfig c;
  c.models = o.models;
  c.threads = o.threads;
  c.device = o.device;
  c.data_dir = o.data;
  c.shots = o.shots;
  if (!o.subjects.empty()) c.subjects = split_list(o.subjects, "--subjects");
  c.max_questions = o.max_questions;
  c.share_prefix = !o.no_share;
  c.axes = parse_intervention_axes(o.keep, o.rank, o.sparsify, o.prefill_manipulation, o.generation_manipulation,
                                   false);
  c.command_line = current_command_line();
  auto db = ResultsDb::open(o.db);
  run_mmlu(c, *db, std::cout, std::cerr, !o.progress_lines && Progress::stderr_is_tty());
}

}  // namespace

void add_mmlu(CLI::App& app) {
  auto o = std::make_shared<MmluCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "mmlu", "MMLU accuracy from the next-token log-probability of \" A\"..\" D\", under interventions");
  cmd->add_option("--model", o->models, "checkpoint directory; repeat for several models")->required();
  cmd->add_option("--threads", o->threads, "CPU threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  add_device_option(*cmd, o->device);
  cmd->add_option("--data", o->data, "MMLU data directory (holding dev/ and test/, as in the original release)")
      ->required();
  cmd->add_option("--shots", o->shots, "dev examples before each question, 0..5")
      ->capture_default_str()
      ->check(CLI::Range(0, 5));
  cmd->add_option("--subjects", o->subjects, "comma list of subjects (default: every {subject}_test.csv)");
  cmd->add_option("--max-questions", o->max_questions, "first N test questions per subject (default: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--keep,--keep-heads", o->keep, "heads kept per layer per token, a list: e.g. 0,3,4,5,all")
      ->capture_default_str();
  cmd->add_option("--rank", o->rank, "head ranking, a list: entropy-low, entropy-high, random:SEED, fixed:FILE")
      ->capture_default_str();
  cmd->add_option("--sparsify", o->sparsify,
                  "a list of: both (the whole forward pass, the paper's MMLU setting), generation (only the last "
                  "prompt token, whose logits give the answer), prefill (all but the last)")
      ->capture_default_str();
  cmd->add_option("--prefill-manipulation", o->prefill_manipulation,
                  "keep or null (the needle manipulations have no needle to act on here)")
      ->capture_default_str();
  cmd->add_option("--generation-manipulation", o->generation_manipulation, "keep or null, at the last prompt token")
      ->capture_default_str();
  cmd->add_option("--db", o->db, "results database (SQLite; created when absent, resumed when present)")
      ->capture_default_str();
  cmd->add_flag("--no-share", o->no_share,
                "run every question's whole prompt (no shared subject header and shots; for checking and measuring)");
  cmd->add_flag("--progress-lines", o->progress_lines, "plain progress lines even on a terminal");
  cmd->callback([o] { run(*o); });
}

}  // namespace hl::cli
