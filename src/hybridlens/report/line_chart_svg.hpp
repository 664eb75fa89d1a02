#pragma once
// Line charts as standalone SVG files: categorical x positions (evenly spaced, e.g. k = 0, 1, 2, ...,
// all), y a share from 0 to 1 drawn as 0..100%, horizontal reference lines, one coloured line with
// point markers per series, and a legend.
#include <string>
#include <vector>

namespace hl {

struct LineSeries {
  std::string label;
  std::vector<double> y;  // one per x label, 0..1; NaN where the series has no point (the line breaks)
};

struct LineChart {
  std::string title;
  std::string x_axis, y_axis;
  std::vector<std::string> x_labels;
  std::vector<LineSeries> series;
  std::vector<double> reference_lines{0.0, 1.0};  // dashed horizontal lines, shares
};

// One <path class="series"> per series, one <circle> per point, one <line class="reference"> per
// reference line (tests count them).
std::string line_chart_svg(const LineChart& c);
void write_line_chart_svg(const std::string& path, const LineChart& c);

// The i-th colour of the series palette ("#rrggbb"; repeats after 10).
std::string series_colour(size_t i);

}  // namespace hl
