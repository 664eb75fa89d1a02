#include "hybridlens/report/write_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>

#include "hybridlens/core/error.hpp"
#include "hybridlens/io/atomic_file.hpp"
#include "hybridlens/report/accuracy_curves.hpp"
#include "hybridlens/report/accuracy_table.hpp"
#include "hybridlens/report/config_labels.hpp"
#include "hybridlens/report/head_entropy_results.hpp"
#include "hybridlens/report/heatmap_svg.hpp"
#include "hybridlens/report/html_page.hpp"
#include "hybridlens/report/line_chart_svg.hpp"
#include "hybridlens/report/manipulation_table.hpp"

namespace fs = std::filesystem;

namespace hl {
namespace {

std::string numbered(const std::string& stem, size_t i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s_%03zu.svg", stem.c_str(), i + 1);
  return buf;
}

std::string depth_label(double d) { return fixed(d, d == std::round(d) ? 0 : 1) + "%"; }

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Heatmap niah_heatmap(const NiahConfig& c, const std::string& label) {
  Heatmap h;
  h.title = label;
  h.subtitle = "mean score 0..5 per depth and length; accuracy " + percent(c.accuracy()) + " of " +
               std::to_string(c.cells) + " cells" + (c.needles > 1 ? ", " + std::to_string(c.needles) + " needles pooled" : "");
  h.row_axis = "needle depth";
  h.col_axis = "context length (tokens)";
  for (double d : c.depths) h.row_labels.push_back(depth_label(d));
  for (int64_t L : c.lengths) h.col_labels.push_back(std::to_string(L));
  h.values = c.mean_score;
  h.vmin = 0;
  h.vmax = 5;
  h.annotate = true;
  h.decimals = 1;
  return h;
}

Heatmap entropy_heatmap(const HeadEntropyMap& m, const std::string& label, double vmax) {
  Heatmap h;
  h.title = label;
  h.subtitle = "mean attention entropy (nats) over prompt and generated positions, " + std::to_string(m.cells) +
               " cells";
  h.row_axis = "attention layer";
  h.col_axis = "head";
  for (int l = 0; l < m.attention_layers; ++l) h.row_labels.push_back(std::to_string(l));
  for (int k = 0; k < m.heads; ++k) h.col_labels.push_back(std::to_string(k));
  h.values = m.mean;
  h.vmin = 0;
  h.vmax = vmax;
  h.annotate = m.heads <= 16;
  h.decimals = 2;
  return h;
}

class FigureWriter {
 public:
  explicit FigureWriter(const fs::path& dir, ReportOutput& out) : dir_(dir), out_(out) {}
  PageFigure write(const std::string& file, const std::string& svg, const std::string& caption) {
    const std::string path = (dir_ / file).string();
    AtomicFileWriter w(path);
    w.write(svg);
    w.commit();
    out_.figures.push_back(path);
    return PageFigure{file, caption};
  }

 private:
  fs::path dir_;
  ReportOutput& out_;
};

}  // namespace

ReportOutput write_report(ResultsDb& db, const std::string& out_dir) {
  HL_CHECK(!out_dir.empty(), "--out: empty directory name");
  const fs::path dir(out_dir);
  std::error_code ec;
  HL_CHECK(!fs::exists(dir, ec) || fs::is_directory(dir, ec), out_dir,
           ": exists and is not a directory (give a directory for --out)");
  fs::create_directories(dir, ec);
  HL_CHECK(!ec, out_dir, ": cannot create the report directory: ", ec.message());

  ReportOutput out;
  const std::vector<NiahConfig> niah = load_niah_configs(db.sql());
  const std::vector<MmluConfig> mmlu = load_mmlu_configs(db.sql());
  const std::vector<HeadEntropyMap> entropy = load_head_entropy_maps(db);
  for (const NiahConfig& c : niah) out.niah_cells += c.cells;
  for (const MmluConfig& c : mmlu) out.mmlu_items += c.questions;
  out.entropy_maps = int64_t(entropy.size());
  out.accuracy_text = accuracy_text(niah, mmlu);

  FigureWriter fig(dir, out);
  const NiahVarying nv = niah_varying(niah);
  std::vector<PageSection> sections;

  PageSection curves{"niah-k", "NIAH accuracy versus k", "", {}, {}, "no NIAH cells in this database"};
  curves.intro = "Accuracy is the share of cells whose output contains the whole needle sentence (score 5). "
                 "One line per model and phase, keep/keep manipulations only; dashed lines at 0% and 100%.";
  const LineChart niah_chart = niah_accuracy_curves(niah);
  if (!niah_chart.series.empty())
    curves.figures.push_back(fig.write("niah_accuracy_vs_k.svg", line_chart_svg(niah_chart), niah_chart.title));
  if (!niah.empty()) curves.tables.push_back(PageTable{"Accuracy per configuration", niah_accuracy_table(niah)});
  const Table by_distance = niah_distance_table(niah);
  if (!by_distance.rows.empty())
    curves.tables.push_back(PageTable{"Accuracy by needle distance (models with a local attention window W; distance "
                                      "from the last prompt position back to the needle's first token; cells in "
                                      "brackets)",
                                      by_distance});
  if (!niah.empty() && niah_chart.series.empty())
    curves.intro += " (No configuration with keep/keep manipulations and a numeric k, so no curve.)";
  sections.push_back(std::move(curves));

  PageSection maps{"niah-heatmaps", "NIAH heatmaps", "", {}, {}, "no NIAH cells in this database"};
  maps.intro = "Mean score (0..5) per needle depth (rows) and context length (columns), one map per "
               "configuration; grey where a grid point was not run.";
  for (size_t i = 0; i < niah.size(); ++i) {
    const std::string label = niah_label(niah[i], nv);
    maps.figures.push_back(fig.write(numbered("niah_heatmap", i), heatmap_svg(niah_heatmap(niah[i], label)), label));
  }
  sections.push_back(std::move(maps));

  PageSection manip{"manipulations", "Attention manipulations at the needle", "", {}, {},
                    "no configuration ran a manipulation other than keep/keep"};
  manip.intro = "Accuracy (cells) per prefill manipulation (rows) and generation manipulation (columns).";
  for (const ManipulationTable& t : manipulation_tables(niah)) manip.tables.push_back(PageTable{t.label, to_table(t)});
  sections.push_back(std::move(manip));

  PageSection mm{"mmlu", "MMLU", "", {}, {}, "no MMLU items in this database"};
  mm.intro = "Accuracy is the share of questions whose highest-probability answer letter is the right one; "
             "\"of k=all\" divides by the unmodified model's accuracy on the same line.";
  const LineChart mmlu_chart = mmlu_accuracy_curves(mmlu);
  if (!mmlu_chart.series.empty())
    mm.figures.push_back(fig.write("mmlu_accuracy_vs_k.svg", line_chart_svg(mmlu_chart), mmlu_chart.title));
  if (!mmlu.empty()) {
    mm.tables.push_back(PageTable{"Accuracy per configuration", mmlu_accuracy_table(mmlu)});
    mm.tables.push_back(PageTable{"Accuracy per subject (correct/questions)", mmlu_subject_table(mmlu)});
  }
  sections.push_back(std::move(mm));

  PageSection ent{"entropy", "Per-head attention entropy", "", {}, {},
                  db.has_head_entropy() ? "no per-head entropy recorded (run niah with --record-entropy)"
                                        : "this database (schema version 1) has no per-head entropy table; "
                                          "run niah with --record-entropy"};
  ent.intro = "Mean entropy of each head's attention over prompt and generated positions, averaged over the "
              "cells of a configuration; low = focused. One colour scale for all maps.";
  double vmax = 0;
  for (const HeadEntropyMap& m : entropy)
    for (double v : m.mean)
      if (!std::isnan(v)) vmax = std::max(vmax, v);
  vmax = vmax > 0 ? std::ceil(vmax * 10) / 10 : 1;
  std::map<NiahConfigKey, const NiahConfig*> config_of;
  for (const NiahConfig& c : niah) config_of[c.key] = &c;
  for (size_t i = 0; i < entropy.size(); ++i) {
    const auto it = config_of.find(entropy[i].key);
    const std::string label = it != config_of.end() ? niah_label(*it->second, nv) : "model #" + std::to_string(entropy[i].key.model_id);
    ent.figures.push_back(
        fig.write(numbered("head_entropy", i), heatmap_svg(entropy_heatmap(entropy[i], label, vmax)), label));
  }
  sections.push_back(std::move(ent));

  const std::vector<std::string> facts = {
      "database: " + db.path() + " (schema version " + std::to_string(db.schema_version()) + ")",
      std::to_string(out.niah_cells) + " NIAH cells in " + std::to_string(niah.size()) + " configurations; " +
          std::to_string(out.mmlu_items) + " MMLU items in " + std::to_string(mmlu.size()) + " configurations",
      "written " + utc_now() + " by hybridlens 0.1.0"};
  out.index_path = (dir / "index.html").string();
  AtomicFileWriter w(out.index_path);
  w.write(html_page("hybridlens report", facts, sections));
  w.commit();
  return out;
}

}  // namespace hl
