// hybridlens niah: needle-in-a-haystack sweeps (METHOD.md) over models, needles, lengths, depths and
// interventions, stored cell by cell in the results database and resumed on rerun.
#include <iostream>

#include "hybridlens/cli/commands.hpp"
#include "hybridlens/cli/common.hpp"
#include "hybridlens/core/error.hpp"
#include "hybridlens/core/parallel.hpp"
#include "hybridlens/eval/command_line.hpp"
#include "hybridlens/eval/niah_sweep.hpp"
#include "hybridlens/eval/progress.hpp"

namespace hl::cli {
namespace {

struct NiahCliOptions {
  std::vector<std::string> models;
  int threads = 0;
  std::string device = "cpu";
  std::string haystack_dir;
  bool builtin_haystack = false;
  bool noise_haystack = false;
  std::string needles;
  std::string lengths = "250:4096:10";
  std::string depths = "0:100:10";
  int64_t buffer = 200;
  std::string template_choice = "auto";
  bool jrt = false;
  std::string keep = "all";
  std::string rank = "entropy-low";
  std::string sparsify = "generation";
  std::string prefill_manipulation = "keep";
  std::string generation_manipulation = "keep";
  bool binary_layer_mean = false;
  int max_new_tokens = 40;
  bool ignore_eos = false;
  std::string db = "results/hybridlens.db";
  bool no_share = false;
  bool record_entropy = false;
  bool progress_lines = false;
};

void run(const NiahCliOptions& o) {
  set_num_threads(o.threads);
  NiahSweepConfig c;
  c.models = o.models;
  c.threads = o.threads;
  c.device = o.device;
  if (!o.haystack_dir.empty())
    c.haystack = load_haystack_dir(o.haystack_dir);
  else if (o.noise_haystack)
    c.haystack = noise_haystack();
  else
    c.haystack = builtin_haystack();
  c.needles = o.needles.empty() ? std::vector<Needle>{default_needle()} : read_needles(o.needles);
  c.lengths = parse_lengths(o.lengths);
  c.depths = parse_depths(o.depths);
  c.buffer = o.buffer;
  c.jrt = o.jrt;
  c.template_choice = o.template_choice;
  c.axes = parse_intervention_axes(o.keep, o.rank, o.sparsify, o.prefill_manipulation, o.generation_manipulation,
                                   o.binary_layer_mean);
  c.max_new_tokens = o.max_new_tokens;
  c.stop_at_eos = !o.ignore_eos;
  c.share = !o.no_share;
  c.record_entropy = o.record_entropy;
  c.command_line = current_command_line();
  // The database is opened (and checked) before any work; a bad file is reported untouched.
  auto db = ResultsDb::open(o.db);
  if (db->upgraded_from() != 0)
    std::cerr << "niah: " << o.db << ": upgraded the results database from schema version " << db->upgraded_from()
              << " to " << db->schema_version() << " (added niah_head_entropy; nothing stored was changed)\n";
  run_niah_sweep(c, *db, std::cout, std::cerr, !o.progress_lines && Progress::stderr_is_tty());
}

}  // namespace

void add_niah(CLI::App& app) {
  auto o = std::make_shared<NiahCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "niah", "needle-in-a-haystack sweep: models x needles x lengths x depths x interventions, stored in SQLite");
  cmd->add_option("--model", o->models, "checkpoint directory; repeat for several models")->required();
  cmd->add_option("--threads", o->threads, "CPU threads (0 = all cores)")->check(CLI::NonNegativeNumber);
  add_device_option(*cmd, o->device);
  auto* h = cmd->add_option("--haystack", o->haystack_dir, "directory of .txt files to hide the needle in");
  auto* b = cmd->add_flag("--builtin-haystack", o->builtin_haystack,
                          "the repository's haystack (data/haystack/*.txt, else generated text; the default)");
  auto* n = cmd->add_flag("--noise-haystack", o->noise_haystack,
                          "\"The grass is green. The sky is blue. ...\" repeated");
  h->excludes(b)->excludes(n);
  b->excludes(h)->excludes(n);
  n->excludes(h)->excludes(b);
  cmd->add_option("--needles", o->needles,
                  "JSONL of {id, needle, question, answer, partial: [[phrase, points], ...]} (default: the paper's "
                  "San Francisco needle; data/needles.jsonl has 14 more)");
  cmd->add_option("--lengths", o->lengths, "context lengths in tokens: FROM:TO:COUNT or a comma list")
      ->capture_default_str();
  cmd->add_option("--depths", o->depths, "needle depths in percent: FROM:TO:COUNT or a comma list")
      ->capture_default_str();
  cmd->add_option("--buffer", o->buffer, "tokens of each length left for the template, question and answer")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--template", o->template_choice,
                  "prompt template: auto (base; Jamba chat checkpoints: their chat format), base, chat, or a file "
                  "with {context} and {question}")
      ->capture_default_str();
  cmd->add_flag("--jrt", o->jrt, "Just Read Twice: the CONTEXT+QUESTION block appears twice");
  cmd->add_option("--keep,--keep-heads", o->keep,
                  "heads kept per layer per token, a list: e.g. 0,1,2,4,8,16,all (above the head count = all)")
      ->capture_default_str();
  cmd->add_option("--rank", o->rank, "head ranking, a list: entropy-low, entropy-high, random:SEED, fixed:FILE")
      ->capture_default_str();
  cmd->add_option("--sparsify", o->sparsify, "phases where heads are dropped, a list: generation, prefill, both")
      ->capture_default_str();
  cmd->add_option("--prefill-manipulation", o->prefill_manipulation,
                  "attention at the needle during prefill, a list: keep, omit, only, binary, null")
      ->capture_default_str();
  cmd->add_option("--generation-manipulation", o->generation_manipulation,
                  "attention at the needle during generation, a list: keep, omit, only, binary, null")
      ->capture_default_str();
  cmd->add_flag("--binary-layer-mean", o->binary_layer_mean,
                "binary: spread the layer's mean needle mass instead of each head's own");
  cmd->add_option("--max-new-tokens", o->max_new_tokens, "greedy tokens generated per cell at most")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--ignore-eos", o->ignore_eos, "keep generating after the end-of-sequence token");
  cmd->add_option("--db", o->db, "results database (SQLite; created when absent, resumed when present)")
      ->capture_default_str();
  cmd->add_flag("--no-share", o->no_share,
                "run every cell's own prefill and decode (no planner sharing; for measuring what it saves)");
  cmd->add_flag("--record-entropy", o->record_entropy,
                "store each cell's mean attention entropy per attention layer and head (over prompt and generated "
                "positions) for the report's entropy maps; cells stored without it are run again");
  cmd->add_flag("--progress-lines", o->progress_lines, "plain progress lines even on a terminal");
  cmd->callback([o] { run(*o); });
}

}  // namespace hl::cli
