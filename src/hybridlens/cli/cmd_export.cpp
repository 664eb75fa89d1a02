// hybridlens export: one table or view of the results database as CSV or JSON Lines.
#include <iostream>
#include <sstream>

#include "hybridlens/cli/commands.hpp"
#include "hybridlens/eval/export.hpp"
#include "hybridlens/io/atomic_file.hpp"

namespace hl::cli {
namespace {

struct ExportOptions {
  std::string db;
  std::string format = "csv";
  std::string table = "niah_cells";
  std::string out;
};

void run(const ExportOptions& o) {
  auto db = ResultsDb::open_readonly(o.db);
  if (o.out.empty()) {
    export_table(*db, o.table, o.format, std::cout);
    std::cout.flush();
    return;
  }
  std::ostringstream buf;
  const int64_t rows = export_table(*db, o.table, o.format, buf);
  AtomicFileWriter w(o.out);
  w.write(buf.str());
  w.commit();
  std::cerr << "wrote " << rows << " rows of " << o.table << " to " << o.out << "\n";
}

}  // namespace

void add_export(CLI::App& app) {
  auto o = std::make_shared<ExportOptions>();
  CLI::App* cmd = app.add_subcommand("export", "write a table of the results database as CSV or JSON Lines");
  cmd->add_option("--db", o->db, "results database")->required();
  cmd->add_option("--format", o->format, "csv or jsonl")->capture_default_str();
  cmd->add_option("--table", o->table,
                  "niah_cells, niah_accuracy, mmlu_items, mmlu_subject_accuracy, mmlu_accuracy, runs, models")
      ->capture_default_str();
  cmd->add_option("--out", o->out, "output file (default: standard output)");
  cmd->callback([o] { run(*o); });
}

}  // namespace hl::cli
