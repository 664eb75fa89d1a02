#include "hybridlens/report/line_chart_svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "hybridlens/core/error.hpp"
#include "hybridlens/io/atomic_file.hpp"
#include "hybridlens/report/svg_text.hpp"

namespace hl {

std::string series_colour(size_t i) {
  static const char* palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                  "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
  return palette[i % 10];
}

std::string line_chart_svg(const LineChart& c) {
  const size_t X = c.x_labels.size();
  for (const LineSeries& s : c.series)
    HL_CHECK(s.y.size() == X, "line chart \"", c.title, "\": series \"", s.label, "\" has ", s.y.size(),
             " values for ", X, " x positions");
  const int left = 64, top = 44, plot_w = std::max(240, int(X) * 70), plot_h = 300;
  const int legend_x = left + plot_w + 24;
  size_t longest = 0;
  for (const LineSeries& s : c.series) longest = std::max(longest, s.label.size());
  const int w = legend_x + 40 + int(std::min<size_t>(longest, 70)) * 7 + 10;
  const int legend_h = int(c.series.size()) * 18 + top;
  const int h = std::max(top + plot_h + 56, legend_h + 10);
  auto px = [&](size_t i) { return left + (X <= 1 ? plot_w / 2.0 : 20 + double(i) * (plot_w - 40) / double(X - 1)); };
  auto py = [&](double y) { return top + (1.0 - std::clamp(y, 0.0, 1.0)) * plot_h; };
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s << "<text x=\"" << left << "\" y=\"24\" font-size=\"14\" font-weight=\"bold\">" << svg_escape(c.title)
    << "</text>\n";
  // Frame, y grid with percent labels, reference lines.
  s << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << plot_w << "\" height=\"" << plot_h
    << "\" fill=\"none\" stroke=\"#999999\"/>\n";
  for (int i = 0; i <= 4; ++i) {
    const double y = py(i / 4.0);
    s << "<line x1=\"" << left << "\" x2=\"" << left + plot_w << "\" y1=\"" << y << "\" y2=\"" << y
      << "\" stroke=\"#eeeeee\"/>\n";
    s << "<text x=\"" << left - 6 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\">" << i * 25 << "%</text>\n";
  }
  for (double r : c.reference_lines) {
    const double y = py(r);
    s << "<line class=\"reference\" x1=\"" << left << "\" x2=\"" << left + plot_w << "\" y1=\"" << y << "\" y2=\"" << y
      << "\" stroke=\"#444444\" stroke-width=\"1.2\" stroke-dasharray=\"6 4\"/>\n";
  }
  for (size_t i = 0; i < X; ++i)
    s << "<text x=\"" << px(i) << "\" y=\"" << top + plot_h + 18 << "\" text-anchor=\"middle\">"
      << svg_escape(c.x_labels[i]) << "</text>\n";
  s << "<text x=\"" << left + plot_w / 2 << "\" y=\"" << top + plot_h + 40 << "\" text-anchor=\"middle\">"
    << svg_escape(c.x_axis) << "</text>\n";
  s << "<text transform=\"translate(16," << top + plot_h / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
    << svg_escape(c.y_axis) << "</text>\n";
  // Series.
  for (size_t k = 0; k < c.series.size(); ++k) {
    const LineSeries& ser = c.series[k];
    const std::string colour = series_colour(k);
    std::ostringstream d;
    bool pen_down = false;
    for (size_t i = 0; i < X; ++i) {
      if (std::isnan(ser.y[i])) {
        pen_down = false;
        continue;
      }
      d << (pen_down ? " L" : (d.tellp() > 0 ? " M" : "M")) << px(i) << " " << py(ser.y[i]);
      pen_down = true;
    }
    s << "<path class=\"series\" d=\"" << d.str() << "\" fill=\"none\" stroke=\"" << colour
      << "\" stroke-width=\"2.5\"/>\n";
    for (size_t i = 0; i < X; ++i) {
      if (std::isnan(ser.y[i])) continue;
      char v[32];
      std::snprintf(v, sizeof v, "%.1f%%", ser.y[i] * 100);
      s << "<circle cx=\"" << px(i) << "\" cy=\"" << py(ser.y[i]) << "\" r=\"4\" fill=\"" << colour << "\"><title>"
        << svg_escape(ser.label) << ", " << svg_escape(c.x_labels[i]) << ": " << v << "</title></circle>\n";
    }
    const int ly = top + 8 + int(k) * 18;
    s << "<line x1=\"" << legend_x << "\" x2=\"" << legend_x + 28 << "\" y1=\"" << ly << "\" y2=\"" << ly
      << "\" stroke=\"" << colour << "\" stroke-width=\"3\"/>\n";
    s << "<text x=\"" << legend_x + 36 << "\" y=\"" << ly + 4 << "\">" << svg_escape(ser.label) << "</text>\n";
  }
  s << "</svg>\n";
  return s.str();
}

void write_line_chart_svg(const std::string& path, const LineChart& c) {
  AtomicFileWriter f(path);
  f.write(line_chart_svg(c));
  f.commit();
}

}  // namespace hl
