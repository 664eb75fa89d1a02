#pragma once
// A NIAH sweep: models x needles x lengths x depths x interventions, run through the planner, every cell
// scored and stored in the results database as soon as it is done; cells already stored are skipped.
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "hybridlens/eval/haystack.hpp"
#include "hybridlens/eval/needles.hpp"
#include "hybridlens/eval/results_db.hpp"
#include "hybridlens/eval/sweep_plan.hpp"

namespace hl {

struct NiahSweepConfig {
  std::vector<std::string> models;
  Haystack haystack;
  std::vector<Needle> needles;
  std::vector<int64_t> lengths;
  std::vector<double> depths;
  int64_t buffer = 200;
  bool jrt = false;
  std::string template_choice = "auto";  // auto | base | chat | a file path
  InterventionAxes axes;
  int max_new_tokens = 40;
  bool stop_at_eos = true;
  bool share = true;  // false: every cell runs its own prefill and decode (for measuring the planner)
  // Store each cell's mean attention entropy per (attention layer, head) over its prompt and generated
  // positions (niah_head_entropy). Cells stored before without it are computed again for it.
  bool record_entropy = false;
  std::string command_line;
  int threads = 0;
  std::string device = "cpu";  // cpu, cuda, cuda:N
};

struct NiahSweepStats {
  int64_t planned = 0, skipped = 0, computed = 0;
  int64_t prefills = 0, decodes = 0;  // actually run
  double seconds = 0;
};

// METHOD.md's grids: 10 lengths linearly 250..4096 (rounded to whole tokens), 10 depths 0..100%.
std::vector<int64_t> default_lengths();
std::vector<double> default_depths();
// "a:b:n" (n values linearly from a to b) or a comma list.
std::vector<int64_t> parse_lengths(const std::string& text);
std::vector<double> parse_depths(const std::string& text);

// Runs the sweep. Progress goes to `log` (a bar when `tty`), the per-configuration accuracy table to
// `out`. Throws hl::Error on bad input before any cell runs where it can be known up front (haystack,
// lengths, needles, templates of every model are all checked first).
NiahSweepStats run_niah_sweep(const NiahSweepConfig& cfg, ResultsDb& db, std::ostream& out, std::ostream& log,
                              bool tty);

}  // namespace hl
