#include "hybridlens/report/html_page.hpp"

#include <sstream>

#include "hybridlens/report/svg_text.hpp"

namespace hl {
namespace {

const char* kStyle = R"CSS(
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1800px; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ccc; padding-bottom: 4px; }
ul.facts { color: #555; font-size: 13px; padding-left: 18px; }
nav a { margin-right: 14px; font-size: 14px; }
.figures { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
figure { margin: 0; border: 1px solid #ddd; padding: 6px; background: white; }
figure img { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 12px; color: #444; max-width: 680px; margin-top: 4px; }
.scroll { overflow-x: auto; margin: 8px 0 18px 0; }
table { border-collapse: collapse; font-size: 13px; }
caption { text-align: left; font-weight: bold; padding: 4px 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
p.empty { color: #777; font-style: italic; }
)CSS";

}  // namespace

std::string html_table(const Table& t) {
  std::ostringstream s;
  s << "<table>\n<thead><tr>";
  for (const std::string& h : t.header) s << "<th>" << svg_escape(h) << "</th>";
  s << "</tr></thead>\n<tbody>\n";
  for (const auto& row : t.rows) {
    s << "<tr>";
    for (size_t c = 0; c < row.size(); ++c) {
      const bool num = c < t.numeric.size() && t.numeric[c];
      s << (num ? "<td class=\"num\">" : "<td>") << svg_escape(row[c]) << "</td>";
    }
    s << "</tr>\n";
  }
  s << "</tbody>\n</table>\n";
  return s.str();
}

std::string html_page(const std::string& title, const std::vector<std::string>& facts,
                      const std::vector<PageSection>& sections) {
  std::ostringstream s;
  s << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << svg_escape(title)
    << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n";
  s << "<h1>" << svg_escape(title) << "</h1>\n<ul class=\"facts\">\n";
  for (const std::string& f : facts) s << "<li>" << svg_escape(f) << "</li>\n";
  s << "</ul>\n<nav>";
  for (const PageSection& sec : sections) s << "<a href=\"#" << svg_escape(sec.id) << "\">" << svg_escape(sec.title) << "</a>";
  s << "</nav>\n";
  for (const PageSection& sec : sections) {
    s << "<section id=\"" << svg_escape(sec.id) << "\">\n<h2>" << svg_escape(sec.title) << "</h2>\n";
    if (!sec.intro.empty()) s << "<p>" << svg_escape(sec.intro) << "</p>\n";
    if (sec.figures.empty() && sec.tables.empty()) {
      s << "<p class=\"empty\">No data: " << svg_escape(sec.empty_note) << "</p>\n</section>\n";
      continue;
    }
    if (!sec.figures.empty()) {
      s << "<div class=\"figures\">\n";
      for (const PageFigure& f : sec.figures)
        s << "<figure><img src=\"" << svg_escape(f.file) << "\" alt=\"" << svg_escape(f.caption)
          << "\"><figcaption>" << svg_escape(f.caption) << "</figcaption></figure>\n";
      s << "</div>\n";
    }
    for (const PageTable& t : sec.tables) {
      s << "<div class=\"scroll\">\n";
      if (!t.caption.empty()) s << "<p><b>" << svg_escape(t.caption) << "</b></p>\n";
      s << html_table(t.table) << "</div>\n";
    }
    s << "</section>\n";
  }
  s << "</body>\n</html>\n";
  return s.str();
}

}  // namespace hl
