#pragma once
// Text inside SVG and HTML: the characters XML reserves escaped; control characters and bytes that are
// not UTF-8 (which would make the whole file unreadable) replaced by '?'; tabs and newlines by spaces.
#include <string>

namespace hl {

std::string svg_escape(const std::string& s);

}  // namespace hl
