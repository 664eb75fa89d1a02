#pragma once
// Heatmaps as standalone SVG files: a grid of coloured cells with row/column labels, a title and a
// colour bar. Used for per-head maps (layer x head) and NIAH maps (depth x length).
#include <string>
#include <vector>

namespace hl {

struct Heatmap {
  std::string title;
  std::string subtitle;  // a smaller second line under the title (may be empty)
  std::string row_axis, col_axis;
  std::vector<std::string> row_labels, col_labels;
  std::vector<double> values;  // row-major [rows, cols]; NaN cells are drawn grey
  double vmin = 0, vmax = 1;   // colour scale limits
  bool annotate = false;       // print each value in its cell
  int decimals = 2;
};

std::string heatmap_svg(const Heatmap& h);
void write_heatmap_svg(const std::string& path, const Heatmap& h);

// "#rrggbb" on a perceptually ordered dark-blue -> yellow scale, t in [0, 1].
std::string colour_scale(double t);

}  // namespace hl
