// The report's aggregation on a database with known scores: configurations, accuracies, heatmap cells,
// accuracy-versus-k lines, manipulation tables, MMLU per configuration and subject, per-head entropy
// maps; and the SVG files carrying exactly those cells, points and lines.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "hybridlens/report/accuracy_curves.hpp"
#include "hybridlens/report/accuracy_table.hpp"
#include "hybridlens/report/head_entropy_results.hpp"
#include "hybridlens/report/line_chart_svg.hpp"
#include "hybridlens/report/manipulation_table.hpp"
#include "hybridlens/report/mmlu_results.hpp"
#include "hybridlens/report/niah_results.hpp"
#include "hybridlens/report/write_report.hpp"
#include "report/report_db_builder.hpp"
#include "support/fixtures.hpp"

namespace hl {
namespace {

using Cell = test::ReportDbBuilder::Cell;
using Item = test::ReportDbBuilder::Item;

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// alpha: 4 heads x 2 attention layers; beta: 8 heads.
//  alpha generation k=0:   2 lengths x 3 depths, score 5 only at (depth 0, length 100)      -> 1/6
//  alpha generation k=2:   length 100 all 5; length 200: depth 0 5, depth 50 2.5, depth 100 not run -> 4/5
//  alpha generation k=all: all 6 points 5, plus a second needle scoring 1 at (0, 100)       -> 6/7
//  alpha both k=0:         6 points, 0                                                      -> 0
//  alpha generation k=all omit/keep: 5 and 0 -> 1/2; keep/null: 0 -> 0
//  beta generation k=4 and k=all: one cell each, 5
struct KnownDb {
  std::string dir = test::temp_dir("report_agg");
  test::ReportDbBuilder b{dir + "/r.db"};
  int64_t alpha = 0, beta = 0;
  KnownDb() {
    alpha = b.model("alpha", 4, 2);
    beta = b.model("beta", 8, 3);
    for (int64_t L : {100, 200})
      for (double d : {0.0, 50.0, 100.0}) {
        Cell c{.model_id = alpha, .heads = 4, .keep_k = 0, .length = L, .depth = d};
        c.score = (L == 100 && d == 0) ? 5 : 0;
        b.niah(c);
        c.keep_k = 2;
        c.score = L == 100 ? 5 : d == 0 ? 5 : 2.5;
        if (!(L == 200 && d == 100)) b.niah(c);
        c.keep_k = 4;
        c.score = 5;
        b.niah(c);
        c.keep_k = 0;
        c.sparsify = "both";
        c.score = 0;
        b.niah(c);
      }
    b.niah(Cell{.model_id = alpha, .heads = 4, .keep_k = 4, .needle_id = "n2", .length = 100, .depth = 0, .score = 1});
    b.niah(Cell{.model_id = alpha, .heads = 4, .keep_k = 4, .prefill_manipulation = "omit", .depth = 0, .score = 5});
    b.niah(Cell{.model_id = alpha, .heads = 4, .keep_k = 4, .prefill_manipulation = "omit", .depth = 50, .score = 0});
    b.niah(Cell{.model_id = alpha, .heads = 4, .keep_k = 4, .generation_manipulation = "null", .score = 0});
    b.niah(Cell{.model_id = beta, .heads = 8, .keep_k = 4, .score = 5});
    b.niah(Cell{.model_id = beta, .heads = 8, .keep_k = 8, .score = 5});
  }
};

const NiahConfig& find(const std::vector<NiahConfig>& cs, const std::string& model, const std::string& sparsify,
                       int k, const std::string& pm = "keep", const std::string& gm = "keep") {
  for (const NiahConfig& c : cs)
    if (c.model_name == model && c.key.sparsify == sparsify && c.key.keep_k == k && c.key.prefill_manipulation == pm &&
        c.key.generation_manipulation == gm)
      return c;
  throw std::runtime_error("no configuration " + model + " " + sparsify + " " + std::to_string(k));
}

TEST(ReportAggregation, NiahConfigurationsAccuraciesAndHeatmapCells) {
  KnownDb k;
  const std::vector<NiahConfig> cs = load_niah_configs(k.b.db().sql());
  ASSERT_EQ(cs.size(), 8u);
  // Listed in the paper's order: generation before both, keep before the manipulations, k ascending.
  EXPECT_EQ(cs[0].key.keep_k, 0);
  EXPECT_EQ(cs[0].key.sparsify, "generation");
  EXPECT_EQ(cs[2].key.keep_k, 4);
  EXPECT_TRUE(cs[2].keep_all);
  EXPECT_EQ(cs[3].key.generation_manipulation, "null");
  EXPECT_EQ(cs[4].key.prefill_manipulation, "omit");
  EXPECT_EQ(cs[5].key.sparsify, "both");
  EXPECT_EQ(cs[6].model_name, "beta");

  const NiahConfig& k0 = find(cs, "alpha", "generation", 0);
  EXPECT_EQ(k0.cells, 6);
  EXPECT_DOUBLE_EQ(k0.accuracy(), 1.0 / 6);
  EXPECT_DOUBLE_EQ(k0.mean(), 5.0 / 6);
  ASSERT_EQ(k0.depths, (std::vector<double>{0, 50, 100}));
  ASSERT_EQ(k0.lengths, (std::vector<int64_t>{100, 200}));
  EXPECT_EQ(k0.mean_score, (std::vector<double>{5, 0, 0, 0, 0, 0}));

  const NiahConfig& k2 = find(cs, "alpha", "generation", 2);
  EXPECT_EQ(k2.cells, 5);
  EXPECT_DOUBLE_EQ(k2.accuracy(), 0.8);
  EXPECT_DOUBLE_EQ(k2.mean_score[0 * 2 + 1], 5);    // depth 0, length 200
  EXPECT_DOUBLE_EQ(k2.mean_score[1 * 2 + 1], 2.5);  // depth 50, length 200
  EXPECT_TRUE(std::isnan(k2.mean_score[2 * 2 + 1]));  // depth 100, length 200: not run
  EXPECT_EQ(k2.grid_cells[2 * 2 + 1], 0);

  const NiahConfig& all = find(cs, "alpha", "generation", 4);
  EXPECT_EQ(all.cells, 7);
  EXPECT_EQ(all.needles, 2);
  EXPECT_DOUBLE_EQ(all.accuracy(), 6.0 / 7);
  EXPECT_DOUBLE_EQ(all.mean_score[0], 3.0);  // needles pooled: (5 + 1) / 2
  EXPECT_EQ(all.grid_cells[0], 2);
  EXPECT_DOUBLE_EQ(find(cs, "alpha", "both", 0).accuracy(), 0.0);
}

TEST(ReportAggregation, AccuracyVersusKHasOneLinePerModelAndPhaseWithAllAtTheRight) {
  KnownDb k;
  const LineChart chart = niah_accuracy_curves(load_niah_configs(k.b.db().sql()));
  ASSERT_EQ(chart.x_labels, (std::vector<std::string>{"0", "2", "4", "all"}));
  ASSERT_EQ(chart.series.size(), 3u);  // alpha generation, alpha both, beta generation (manipulations left out)
  EXPECT_EQ(chart.series[0].label, "alpha \xc2\xb7 generation");
  EXPECT_EQ(chart.series[1].label, "alpha \xc2\xb7 prefill+generation");
  EXPECT_EQ(chart.series[2].label, "beta \xc2\xb7 generation");
  const auto& a = chart.series[0].y;
  EXPECT_DOUBLE_EQ(a[0], 1.0 / 6);
  EXPECT_DOUBLE_EQ(a[1], 0.8);
  EXPECT_TRUE(std::isnan(a[2]));  // alpha never ran k = 4 below its head count (4 = all)
  EXPECT_DOUBLE_EQ(a[3], 6.0 / 7);
  EXPECT_DOUBLE_EQ(chart.series[1].y[0], 0.0);
  EXPECT_TRUE(std::isnan(chart.series[1].y[3]));
  EXPECT_DOUBLE_EQ(chart.series[2].y[2], 1.0);
  EXPECT_DOUBLE_EQ(chart.series[2].y[3], 1.0);

  const std::string svg = line_chart_svg(chart);
  EXPECT_EQ(count(svg, "class=\"series\""), 3u);
  EXPECT_EQ(count(svg, "<circle"), 3u + 1u + 2u);  // one marker per point
  EXPECT_EQ(count(svg, "class=\"reference\""), 2u);  // 0% and 100%
  EXPECT_NE(svg.find(">all</text>"), std::string::npos);
  // The alpha line breaks at the missing k = 4 point: two pieces, the second a lone move to "all".
  const size_t path = svg.find("class=\"series\" d=\"");
  const std::string d = svg.substr(path, svg.find("\"", path + 18) - path);
  EXPECT_EQ(count(d, "M"), 2u) << d;
  EXPECT_EQ(count(d, "L"), 1u) << d;
}

TEST(ReportAggregation, ManipulationTableOfTheConfigurationThatRanThem) {
  KnownDb k;
  const auto tables = manipulation_tables(load_niah_configs(k.b.db().sql()));
  ASSERT_EQ(tables.size(), 1u);
  const ManipulationTable& t = tables[0];
  EXPECT_EQ(t.label, "alpha \xc2\xb7 generation \xc2\xb7 k=all");
  ASSERT_EQ(t.prefill, (std::vector<std::string>{"keep", "omit"}));
  ASSERT_EQ(t.generation, (std::vector<std::string>{"keep", "null"}));
  EXPECT_DOUBLE_EQ(t.accuracy[0], 6.0 / 7);
  EXPECT_DOUBLE_EQ(t.accuracy[1], 0.0);
  EXPECT_DOUBLE_EQ(t.accuracy[2], 0.5);
  EXPECT_TRUE(std::isnan(t.accuracy[3]));
  const Table tt = to_table(t);
  EXPECT_EQ(tt.rows[1], (std::vector<std::string>{"omit", "50.0% (2)", "-"}));
}

TEST(ReportAggregation, AccuracyTableNamesModelPhaseKAndWhatVaries) {
  KnownDb k;
  const std::vector<NiahConfig> cs = load_niah_configs(k.b.db().sql());
  const Table t = niah_accuracy_table(cs);
  ASSERT_EQ(t.header, (std::vector<std::string>{"model", "phase", "k", "prefill", "generation", "accuracy",
                                                  "mean score", "cells"}));
  ASSERT_EQ(t.rows.size(), 8u);
  EXPECT_EQ(t.rows[1], (std::vector<std::string>{"alpha", "generation", "2", "keep", "keep", "80.0%", "4.50", "5"}));
  EXPECT_EQ(t.rows[2][2], "all");
  const std::string text = accuracy_text(cs, {});
  EXPECT_NE(text.find("\nalpha  generation            2  keep     keep           80.0%        4.50      5\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("MMLU accuracy"), std::string::npos);
  EXPECT_NE(text.find("  no data"), std::string::npos);
  EXPECT_EQ(text.find("by needle distance"), std::string::npos) << "no model here has a local attention window";
}

TEST(ReportAggregation, AccuracyByNeedleDistanceInWindowsOfWindowedModelsOnly) {
  const std::string dir = test::temp_dir("report_distance");
  test::ReportDbBuilder b(dir + "/r.db");
  const int64_t gamma = b.model("gamma", 2, 1, 100);
  const int64_t delta = b.model("delta", 2, 1, 0);
  // Distance = length (prompt tokens) - needle_begin; W = 100.
  const Cell all{.model_id = gamma, .heads = 2, .keep_k = 2};
  auto at = [&](Cell c, int64_t length, int64_t needle_begin, double score) {
    c.length = length;
    c.needle_begin = needle_begin;
    c.score = score;
    b.niah(c);
  };
  at(all, 200, 100, 5);  // 100: the needle's first token is the oldest the last position sees
  at(all, 200, 150, 0);  // 50
  at(all, 300, 199, 5);  // 101: one token beyond the window
  at(all, 300, 100, 5);  // 200
  at(all, 900, 10, 0);   // 890: counted as beyond 3 W
  at(Cell{.model_id = gamma, .heads = 2, .keep_k = 0}, 200, 150, 0);
  at(Cell{.model_id = delta, .heads = 2, .keep_k = 2}, 200, 150, 5);

  const std::vector<NiahConfig> cs = load_niah_configs(b.db().sql());
  const NiahConfig& g = find(cs, "gamma", "generation", 2);
  EXPECT_EQ(g.window, 100);
  EXPECT_EQ(g.distance_cells, (std::vector<int64_t>{2, 2, 0, 1}));
  EXPECT_EQ(g.distance_correct, (std::vector<int64_t>{1, 2, 0, 0}));
  EXPECT_TRUE(find(cs, "delta", "generation", 2).distance_cells.empty());

  const Table t = niah_distance_table(cs);
  ASSERT_EQ(t.header, (std::vector<std::string>{"model", "phase", "k", "window W", "<= W", "W+1..2W", "> 3W"}));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"gamma", "generation", "0", "100", "0.0% (1)", "-", "-"}));
  EXPECT_EQ(t.rows[1],
            (std::vector<std::string>{"gamma", "generation", "all", "100", "50.0% (2)", "100.0% (2)", "0.0% (1)"}));
  const std::string text = accuracy_text(cs, {});
  EXPECT_NE(text.find("NIAH accuracy by needle distance"), std::string::npos) << text;
  EXPECT_NE(text.find("gamma  generation  all       100  50.0% (2)  100.0% (2)  0.0% (1)"), std::string::npos) << text;
}

TEST(ReportAggregation, MmluPerConfigurationSubjectAndShareOfUnmodified) {
  const std::string dir = test::temp_dir("report_mmlu");
  test::ReportDbBuilder b(dir + "/r.db");
  const int64_t m = b.model("gamma", 4, 2);
  for (int i = 0; i < 4; ++i) b.mmlu(Item{.model_id = m, .keep_k = 0, .subject = "astronomy", .correct = i == 0});
  for (int i = 0; i < 2; ++i) b.mmlu(Item{.model_id = m, .keep_k = 0, .subject = "biology", .correct = false});
  for (int i = 0; i < 4; ++i) b.mmlu(Item{.model_id = m, .keep_k = 4, .subject = "astronomy", .correct = i != 0});
  for (int i = 0; i < 2; ++i) b.mmlu(Item{.model_id = m, .keep_k = 4, .subject = "biology", .correct = true});
  const std::vector<MmluConfig> cs = load_mmlu_configs(b.db().sql());
  ASSERT_EQ(cs.size(), 2u);
  EXPECT_EQ(cs[0].keep_k, 0);
  EXPECT_EQ(cs[0].questions, 6);
  EXPECT_DOUBLE_EQ(cs[0].accuracy(), 1.0 / 6);
  EXPECT_DOUBLE_EQ(cs[1].accuracy(), 5.0 / 6);
  EXPECT_DOUBLE_EQ(unmodified_accuracy(cs, cs[0]), 5.0 / 6);
  ASSERT_EQ(cs[1].subjects.size(), 2u);
  EXPECT_EQ(cs[1].subjects[1].subject, "biology");
  EXPECT_EQ(cs[1].subjects[1].correct, 2);

  const Table t = mmlu_accuracy_table(cs);
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"gamma", "prefill+generation", "0", "16.7%", "20.0%", "1", "6"}));
  const Table s = mmlu_subject_table(cs);
  ASSERT_EQ(s.rows.size(), 3u);
  EXPECT_EQ(s.rows[0], (std::vector<std::string>{"astronomy", "25.0% (1/4)", "75.0% (3/4)"}));
  EXPECT_EQ(s.rows[2], (std::vector<std::string>{"all subjects", "16.7% (1/6)", "83.3% (5/6)"}));
  const LineChart chart = mmlu_accuracy_curves(cs);
  ASSERT_EQ(chart.x_labels, (std::vector<std::string>{"0", "all"}));
  ASSERT_EQ(chart.series.size(), 1u);
  EXPECT_DOUBLE_EQ(chart.series[0].y[1], 5.0 / 6);
}

TEST(ReportAggregation, HeadEntropyMapsAverageTheCellsOfAConfiguration) {
  const std::string dir = test::temp_dir("report_entropy");
  test::ReportDbBuilder b(dir + "/r.db");
  const int64_t m = b.model("alpha", 2, 3);
  Cell c{.model_id = m, .heads = 2, .keep_k = 1};
  b.niah_with_entropy(c, 3, {1, 2, 3, 4, 5, 6});
  c.depth = 50;
  b.niah_with_entropy(c, 3, {3, 2, 1, 0, 5, 8});
  c.depth = 100;
  b.niah(c);  // no entropy: not in the map
  c.keep_k = 2;
  b.niah_with_entropy(c, 3, {0.5, 0.5, 0.5, 0.5, 0.5, 0.5});
  const auto maps = load_head_entropy_maps(b.db());
  ASSERT_EQ(maps.size(), 2u);
  EXPECT_EQ(maps[0].key.keep_k, 1);
  EXPECT_EQ(maps[0].attention_layers, 3);
  EXPECT_EQ(maps[0].heads, 2);
  EXPECT_EQ(maps[0].cells, 2);
  ASSERT_EQ(maps[0].mean.size(), 6u);
  const double expect[] = {2, 2, 2, 2, 5, 7};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(maps[0].mean[size_t(i)], expect[i], 1e-12) << i;
  // The stored columns: the overall mean weighs prompt (10 positions) and generation (5) means.
  SqliteStatement s = b.db().sql().prepare(
      "SELECT entropy_mean, prompt_entropy_mean, generation_entropy_mean, prompt_positions, generation_positions "
      "FROM niah_head_entropy WHERE attention_layer = 2 AND head = 1 ORDER BY cell_id LIMIT 1");
  ASSERT_TRUE(s.step());
  EXPECT_DOUBLE_EQ(s.real(0), 6);
  EXPECT_DOUBLE_EQ(s.real(1), 6);
  EXPECT_DOUBLE_EQ(s.real(2), 6);
  EXPECT_EQ(s.int64(3), 10);
  EXPECT_EQ(s.int64(4), 5);
}

TEST(ReportFiles, SvgFilesCarryOneCellPerGridPointAndThePageLinksThemAll) {
  KnownDb k;
  const std::string out = k.dir + "/report";
  const ReportOutput r = write_report(k.b.db(), out);
  // 1 NIAH chart + 8 heatmaps; no MMLU, no entropy.
  ASSERT_EQ(r.figures.size(), 9u);
  EXPECT_EQ(r.niah_cells, 29);
  const std::string k0 = slurp(out + "/niah_heatmap_001.svg");
  EXPECT_EQ(count(k0, "</title></rect>"), 6u);  // 3 depths x 2 lengths
  EXPECT_NE(k0.find("<title>0%, 100: 5</title>"), std::string::npos) << k0;
  EXPECT_EQ(count(k0, ">5.0</text>"), 1u);
  EXPECT_EQ(count(k0, ">0.0</text>"), 5u);
  const std::string k2 = slurp(out + "/niah_heatmap_002.svg");
  EXPECT_EQ(count(k2, "</title></rect>"), 6u);
  EXPECT_EQ(count(k2, "fill=\"#cccccc\""), 1u);  // the grid point not run
  EXPECT_EQ(count(slurp(out + "/niah_heatmap_007.svg"), "</title></rect>"), 1u);  // beta k=4: one point
  EXPECT_EQ(count(slurp(out + "/niah_accuracy_vs_k.svg"), "class=\"series\""), 3u);

  const std::string page = slurp(r.index_path);
  EXPECT_EQ(count(page, "<img "), r.figures.size());
  for (const std::string& f : r.figures) {
    const std::string name = std::filesystem::path(f).filename().string();
    EXPECT_NE(page.find("src=\"" + name + "\""), std::string::npos) << name;
  }
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("http"), std::string::npos);  // nothing fetched from a network
  EXPECT_NE(page.find("No data: no MMLU items"), std::string::npos);
  EXPECT_NE(page.find("No data: no per-head entropy recorded"), std::string::npos);
  EXPECT_NE(page.find("50.0% (2)"), std::string::npos);  // the manipulation table
  for (const auto& e : std::filesystem::directory_iterator(out))
    EXPECT_EQ(e.path().extension(), e.path().filename() == "index.html" ? ".html" : ".svg") << e.path();
}

TEST(ReportFiles, EmptyDatabaseGivesAValidPageWithEverySectionSayingNoData) {
  const std::string dir = test::temp_dir("report_empty");
  test::ReportDbBuilder b(dir + "/r.db");
  const ReportOutput r = write_report(b.db(), dir + "/out/nested");
  EXPECT_TRUE(r.figures.empty());
  const std::string page = slurp(r.index_path);
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(page.find("</html>"), std::string::npos);
  EXPECT_EQ(count(page, "<p class=\"empty\">No data: "), 5u);
  EXPECT_EQ(count(page, "<section "), 5u);
  EXPECT_EQ(count(r.accuracy_text, "  no data\n"), 2u);
}

TEST(ReportFiles, OnlyMmluAndOnlyNiahDatabases) {
  const std::string dir = test::temp_dir("report_partial");
  {
    test::ReportDbBuilder b(dir + "/mmlu.db");
    const int64_t m = b.model("gamma", 4, 2);
    b.mmlu(Item{.model_id = m, .keep_k = 0});
    b.mmlu(Item{.model_id = m, .keep_k = 4});
    const ReportOutput r = write_report(b.db(), dir + "/mmlu");
    ASSERT_EQ(r.figures.size(), 1u);
    EXPECT_EQ(std::filesystem::path(r.figures[0]).filename(), "mmlu_accuracy_vs_k.svg");
    const std::string page = slurp(r.index_path);
    EXPECT_EQ(count(page, "No data: no NIAH cells"), 2u);
    EXPECT_EQ(page.find("No data: no MMLU"), std::string::npos);
    EXPECT_NE(r.accuracy_text.find("gamma"), std::string::npos);
  }
  {
    test::ReportDbBuilder b(dir + "/niah.db");
    const int64_t m = b.model("alpha", 4, 2);
    b.niah_with_entropy(Cell{.model_id = m, .heads = 4, .keep_k = 2}, 2, {1, 2, 3, 4, 5, 6, 7, 8});
    const ReportOutput r = write_report(b.db(), dir + "/niah");
    ASSERT_EQ(r.figures.size(), 3u);  // chart, heatmap, entropy map
    EXPECT_EQ(r.entropy_maps, 1);
    const std::string ent = slurp(dir + "/niah/head_entropy_001.svg");
    EXPECT_EQ(count(ent, "</title></rect>"), 8u);  // 2 attention layers x 4 heads
    const std::string page = slurp(r.index_path);
    EXPECT_NE(page.find("No data: no MMLU"), std::string::npos);
    EXPECT_EQ(page.find("No data: no NIAH"), std::string::npos);
  }
}

TEST(ReportFiles, RewritingReplacesFilesWholeAndLeavesNoTemporaries) {
  KnownDb k;
  const std::string out = k.dir + "/report";
  write_report(k.b.db(), out);
  const std::string first = slurp(out + "/niah_heatmap_001.svg");
  std::ofstream(out + "/notes.txt") << "mine";
  k.b.niah(Cell{.model_id = k.alpha, .heads = 4, .keep_k = 0, .length = 300, .depth = 0, .score = 5});
  write_report(k.b.db(), out);
  const std::string second = slurp(out + "/niah_heatmap_001.svg");
  EXPECT_NE(first, second);
  EXPECT_EQ(count(second, "</title></rect>"), 9u);  // a third length column
  EXPECT_EQ(slurp(out + "/notes.txt"), "mine");
  for (const auto& e : std::filesystem::directory_iterator(out))
    EXPECT_NE(e.path().extension(), ".tmp") << e.path();
}

}  // namespace
}  // namespace hl
