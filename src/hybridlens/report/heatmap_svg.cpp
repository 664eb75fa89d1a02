#include "hybridlens/report/heatmap_svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "hybridlens/core/error.hpp"
#include "hybridlens/io/atomic_file.hpp"
#include "hybridlens/report/svg_text.hpp"

namespace hl {
namespace {

std::string escape(const std::string& s) { return svg_escape(s); }

}  // namespace

std::string colour_scale(double t) {
  // Anchor colours of a viridis-like ramp, linearly interpolated.
  static const double stops[][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  t = std::isnan(t) ? 0 : std::clamp(t, 0.0, 1.0);
  const double x = t * 4;
  const int i = std::min(3, int(x));
  const double f = x - i;
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", int(stops[i][0] + f * (stops[i + 1][0] - stops[i][0])),
                int(stops[i][1] + f * (stops[i + 1][1] - stops[i][1])), int(stops[i][2] + f * (stops[i + 1][2] - stops[i][2])));
  return buf;
}

std::string heatmap_svg(const Heatmap& h) {
  const size_t R = h.row_labels.size(), C = h.col_labels.size();
  HL_CHECK(h.values.size() == R * C, "heatmap \"", h.title, "\": ", h.values.size(), " values for ", R, " x ", C, " cells");
  const int cell = std::clamp(int(560 / std::max<size_t>(C, 1)), 14, 48);
  const int left = 90, top = 50, bar = 18;
  // Wide enough for the title (about 8 px per character at 14 px bold) and the subtitle.
  const int w = std::max({left + int(C) * cell + 100, left + 12 + int(h.title.size()) * 8, left + 12 + int(h.subtitle.size()) * 6});
  const int ht = top + int(R) * cell + 60;
  const double span = h.vmax > h.vmin ? h.vmax - h.vmin : 1;
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << ht << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  s << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s << "<text x=\"" << left << "\" y=\"22\" font-size=\"14\" font-weight=\"bold\">" << escape(h.title) << "</text>\n";
  if (!h.subtitle.empty())
    s << "<text x=\"" << left << "\" y=\"38\" fill=\"#444444\">" << escape(h.subtitle) << "</text>\n";
  for (size_t r = 0; r < R; ++r) {
    s << "<text x=\"" << left - 6 << "\" y=\"" << top + int(r) * cell + cell / 2 + 4 << "\" text-anchor=\"end\">"
      << escape(h.row_labels[r]) << "</text>\n";
    for (size_t c = 0; c < C; ++c) {
      const double v = h.values[r * C + c];
      const std::string fill = std::isnan(v) ? "#cccccc" : colour_scale((v - h.vmin) / span);
      s << "<rect x=\"" << left + int(c) * cell << "\" y=\"" << top + int(r) * cell << "\" width=\"" << cell
        << "\" height=\"" << cell << "\" fill=\"" << fill << "\"><title>" << escape(h.row_labels[r]) << ", "
        << escape(h.col_labels[c]) << ": " << v << "</title></rect>\n";
      if (h.annotate && !std::isnan(v)) {
        const double t = (v - h.vmin) / span;
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.*f", h.decimals, v);
        s << "<text x=\"" << left + int(c) * cell + cell / 2 << "\" y=\"" << top + int(r) * cell + cell / 2 + 4
          << "\" text-anchor=\"middle\" font-size=\"9\" fill=\"" << (t > 0.6 ? "black" : "white") << "\">" << buf
          << "</text>\n";
      }
    }
  }
  for (size_t c = 0; c < C; ++c)
    s << "<text x=\"" << left + int(c) * cell + cell / 2 << "\" y=\"" << top + int(R) * cell + 14
      << "\" text-anchor=\"middle\">" << escape(h.col_labels[c]) << "</text>\n";
  s << "<text x=\"" << left + int(C) * cell / 2 << "\" y=\"" << top + int(R) * cell + 32 << "\" text-anchor=\"middle\">"
    << escape(h.col_axis) << "</text>\n";
  s << "<text transform=\"translate(16," << top + int(R) * cell / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
    << escape(h.row_axis) << "</text>\n";
  const int bx = left + int(C) * cell + 24, bh = std::max(int(R) * cell, 60);
  for (int i = 0; i < 20; ++i)
    s << "<rect x=\"" << bx << "\" y=\"" << top + bh - (i + 1) * bh / 20 << "\" width=\"" << bar << "\" height=\""
      << bh / 20 + 1 << "\" fill=\"" << colour_scale((i + 0.5) / 20) << "\"/>\n";
  s << "<text x=\"" << bx + bar + 4 << "\" y=\"" << top + 10 << "\">" << h.vmax << "</text>\n";
  s << "<text x=\"" << bx + bar + 4 << "\" y=\"" << top + bh << "\">" << h.vmin << "</text>\n";
  s << "</svg>\n";
  return s.str();
}

void write_heatmap_svg(const std::string& path, const Heatmap& h) {
  AtomicFileWriter f(path);
  f.write(heatmap_svg(h));
  f.commit();
}

}  // namespace hl
