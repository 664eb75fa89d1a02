// hybridlens report: an HTML page with SVG figures from a results database, and the accuracy table on
// standard output.
#include <iostream>

#include "hybridlens/cli/commands.hpp"
#include "hybridlens/eval/results_db.hpp"
#include "hybridlens/report/write_report.hpp"

namespace hl::cli {
namespace {

struct ReportOptions {
  std::string db;
  std::string out;
  bool quiet = false;
};

void run(const ReportOptions& o) {
  auto db = ResultsDb::open_readonly(o.db);
  const ReportOutput r = write_report(*db, o.out);
  if (o.quiet) return;
  std::cout << r.accuracy_text;
  std::cout.flush();
  std::cerr << "report: " << r.figures.size() << " figures and " << r.index_path << " (" << r.niah_cells
            << " NIAH cells, " << r.mmlu_items << " MMLU items)\n";
}

}  // namespace

void add_report(CLI::App& app) {
  auto o = std::make_shared<ReportOptions>();
  CLI::App* cmd = app.add_subcommand(
      "report", "HTML page and SVG figures (heatmaps, accuracy versus k, manipulations, MMLU, head entropy) from "
                "a results database; the accuracy table on standard output");
  cmd->add_option("--db", o->db, "results database (read only)")->required();
  cmd->add_option("--out", o->out, "directory for index.html and the figures (created when absent)")->required();
  cmd->add_flag("--quiet", o->quiet, "print nothing but errors (the files are written all the same)");
  cmd->callback([o] { run(*o); });
}

}  // namespace hl::cli
