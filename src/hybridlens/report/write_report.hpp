#pragma once
// hybridlens report: reads a results database (read-only) and writes DIR/index.html with its SVG
// figures next to it: accuracy versus k, NIAH heatmaps (depth x length, mean score 0..5) per
// configuration, manipulation tables, MMLU accuracy versus k with per-subject tables, and per-head
// entropy maps where niah --record-entropy stored them. Every file is written atomically (a temporary
// file renamed over the old one), figures first and index.html last, so the page never points at a
// figure that is not there; other files in DIR are left alone.
#include <cstdint>
#include <string>
#include <vector>

#include "hybridlens/eval/results_db.hpp"

namespace hl {

struct ReportOutput {
  std::string index_path;
  std::vector<std::string> figures;  // paths of the SVG files written
  std::string accuracy_text;         // the NIAH and MMLU accuracy tables as plain text
  int64_t niah_cells = 0, mmlu_items = 0, entropy_maps = 0;
};

// Throws hl::Error naming the directory when it cannot be created or written.
ReportOutput write_report(ResultsDb& db, const std::string& out_dir);

}  // namespace hl
