// The report page in headless Chromium (Debian package chromium): it loads without console messages,
// every figure it links decodes as an image, and a screenshot shows the figures' colours. A broken
// figure is caught by the same checks (negative control), so the test can fail. Skipped, with a
// message, where Chromium is not installed (scripts/install-deps.sh installs it).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>

#include "hybridlens/report/write_report.hpp"
#include "report/png_read.hpp"
#include "report/report_db_builder.hpp"
#include "support/fixtures.hpp"

namespace fs = std::filesystem;

namespace hl {
namespace {

using Cell = test::ReportDbBuilder::Cell;
using Item = test::ReportDbBuilder::Item;

// Colours the figures are drawn in (heatmap_svg.cpp's scale ends, line_chart_svg.cpp's first series).
constexpr uint32_t kScoreFive = 0xfde725, kScoreZero = 0x440154, kFirstSeries = 0x1f77b4;

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string sh(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string find_chromium() {
  if (const char* e = std::getenv("HL_CHROMIUM"); e && *e) return e;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':'))
    for (const char* name : {"chromium", "chromium-browser"})
      if (fs::exists(fs::path(dir) / name)) return (fs::path(dir) / name).string();
  return "";
}

struct BrowserRun {
  int status = -1;
  std::string out, err;
};

// One headless Chromium run on a file:// page, with its own profile directory; generous time limit
// (a loaded 2-core machine can take long to start the browser).
BrowserRun chromium(const std::string& exe, const std::string& page, const std::string& args) {
  const std::string dir = test::temp_dir("chromium");
  const std::string cmd = "timeout 300 " + sh(exe) +
                          " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
                          "--disable-background-networking --no-first-run --no-default-browser-check "
                          "--user-data-dir=" + sh(dir + "/profile") + " --enable-logging=stderr --v=0 " + args +
                          " " + sh("file://" + fs::absolute(page).string()) + " >" + sh(dir + "/out") + " 2>" +
                          sh(dir + "/err");
  BrowserRun r;
  const int st = std::system(cmd.c_str());
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.out = slurp(dir + "/out");
  r.err = slurp(dir + "/err");
  return r;
}

// Console messages Chromium logged for the page ("...:INFO:CONSOLE(...)] "msg", source: ...").
std::vector<std::string> console_lines(const std::string& err) {
  std::vector<std::string> lines;
  std::stringstream s(err);
  std::string line;
  while (std::getline(s, line))
    if (line.find(":CONSOLE") != std::string::npos) lines.push_back(line);
  return lines;
}

// A copy of the page with a probe that counts the images that decoded (naturalWidth > 0) once
// everything has loaded and puts "loaded N of M" in the title, read back with --dump-dom. The page
// itself has no script; the probe lives next to it so relative figure paths resolve the same way.
std::pair<int, int> loaded_images(const std::string& exe, const std::string& index) {
  std::string html = slurp(index);
  const std::string probe =
      "<script>window.addEventListener('load', function () { var n = 0, m = document.images.length; "
      "for (var i = 0; i < m; ++i) if (document.images[i].naturalWidth > 0) ++n; "
      "document.title = 'loaded ' + n + ' of ' + m; });</script>";
  html.insert(html.rfind("</body>"), probe);
  const std::string probe_path = (fs::path(index).parent_path() / "probe.html").string();
  std::ofstream(probe_path) << html;
  const BrowserRun r = chromium(exe, probe_path, "--dump-dom");
  fs::remove(probe_path);
  std::smatch m;
  if (r.status != 0 || !std::regex_search(r.out, m, std::regex("<title>loaded (\\d+) of (\\d+)</title>")))
    return {-1, -1};
  return {std::stoi(m[1]), std::stoi(m[2])};
}

TEST(ReportChromium, PageLoadsCleanlyAndTheScreenshotShowsTheFigures) {
  const std::string exe = find_chromium();
  if (exe.empty())
    GTEST_SKIP() << "chromium is not installed, so the report page was NOT rendered "
                    "(scripts/install-deps.sh installs the Debian package chromium)";
  const std::string dir = test::temp_dir("report_chromium");
  test::ReportDbBuilder b(dir + "/r.db");
  const int64_t m = b.model("alpha", 4, 2);
  for (int64_t L : {100, 200, 300})
    for (double d : {0.0, 50.0, 100.0}) {
      b.niah(Cell{.model_id = m, .heads = 4, .keep_k = 0, .length = L, .depth = d, .score = 0});
      b.niah_with_entropy(Cell{.model_id = m, .heads = 4, .keep_k = 4, .length = L, .depth = d, .score = 5}, 2,
                          {0.4, 0.9, 1.23, 0.2, 0.7, 0.5, 0.1, 1.1});
    }
  b.mmlu(Item{.model_id = m, .keep_k = 0, .correct = false});
  b.mmlu(Item{.model_id = m, .keep_k = 4, .correct = true});
  const std::string out = dir + "/report";
  const ReportOutput rep = write_report(b.db(), out);
  ASSERT_EQ(rep.figures.size(), 5u);  // NIAH chart, 2 heatmaps, MMLU chart, 1 entropy map
  const std::string index = rep.index_path;

  // 1. Loading the page logs nothing to the console.
  const std::string shot = dir + "/shot.png";
  const BrowserRun r = chromium(exe, index, "--screenshot=" + sh(shot) + " --window-size=1400,2000");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(console_lines(r.err).empty()) << r.err;

  // 2. The screenshot is the window's size and shows the figures: the k = all heatmap's score-5 cells
  //    (9 cells of 48 x 48 pixels, less their printed values), the k = 0 heatmap's score-0 cells, and
  //    the accuracy lines.
  const test::RgbImage img = test::read_png_rgb(shot);
  EXPECT_EQ(img.width, 1400);
  EXPECT_EQ(img.height, 2000);
  std::cout << "screenshot " << img.width << "x" << img.height << ": " << test::distinct_colours(img)
            << " colours, score-5 pixels " << test::count_colour(img, kScoreFive) << ", score-0 pixels "
            << test::count_colour(img, kScoreZero) << ", first-series pixels " << test::count_colour(img, kFirstSeries)
            << "\n";
  EXPECT_GT(test::distinct_colours(img), 50u);
  EXPECT_GT(test::count_colour(img, kScoreFive), 9 * 48 * 48 / 2);
  EXPECT_GT(test::count_colour(img, kScoreZero), 9 * 48 * 48 / 2);
  EXPECT_GT(test::count_colour(img, kFirstSeries), 50);

  // 3. Every <img> decoded.
  const int imgs = int(rep.figures.size());
  EXPECT_EQ(loaded_images(exe, index), std::make_pair(imgs, imgs));

  // Negative control: a figure that is not valid SVG is caught by both the probe and the screenshot.
  std::ofstream(out + "/niah_heatmap_002.svg") << "<svg xmlns=\"http://www.w3.org/2000/svg\"><rect";
  EXPECT_EQ(loaded_images(exe, index), std::make_pair(imgs - 1, imgs));
  const std::string shot2 = dir + "/shot2.png";
  ASSERT_EQ(chromium(exe, index, "--screenshot=" + sh(shot2) + " --window-size=1400,2000").status, 0);
  EXPECT_LT(test::count_colour(test::read_png_rgb(shot2), kScoreFive), 100);
}

}  // namespace
}  // namespace hl
