#pragma once
// The report's HTML: sections of figures (SVG files next to the page, shown with <img>) and tables,
// styled inline; no script, no external resource, so a file:// page renders anywhere.
#include <string>
#include <vector>

#include "hybridlens/report/table.hpp"

namespace hl {

struct PageFigure {
  std::string file;  // relative to the page
  std::string caption;
};

struct PageTable {
  std::string caption;
  Table table;
};

struct PageSection {
  std::string id, title;
  std::string intro;  // a paragraph of plain text (escaped)
  std::vector<PageFigure> figures;
  std::vector<PageTable> tables;
  std::string empty_note;  // shown as "No data: ..." when the section has neither figures nor tables
};

std::string html_table(const Table& t);
// A whole page: title, a list of facts (database, counts) under it, a table of contents, the sections.
std::string html_page(const std::string& title, const std::vector<std::string>& facts,
                      const std::vector<PageSection>& sections);

}  // namespace hl
