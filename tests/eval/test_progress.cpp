// Progress: plain periodic lines off a terminal, a redrawn bar on one; rate and time left.
#include <gtest/gtest.h>

#include <sstream>

#include "hybridlens/eval/progress.hpp"

namespace hl {
namespace {

TEST(Progress, PlainLinesAtIntervalsAndAtTheEnd) {
  double now = 0;
  std::ostringstream out;
  {
    Progress p("niah", "cells", 100, out, false, 10.0, [&] { return now; });
    for (int i = 0; i < 100; ++i) {
      now += 0.5;  // 2 cells/s
      p.advance();
    }
  }
  const std::string s = out.str();
  EXPECT_EQ(s.find('\r'), std::string::npos);
  EXPECT_NE(s.find("niah 20/100 cells, 2.00 cells/s, 40 s left\n"), std::string::npos) << s;
  EXPECT_NE(s.find("niah 100/100 cells, 2.00 cells/s, done in 50 s\n"), std::string::npos) << s;
  int lines = 0;
  for (char c : s) lines += c == '\n';
  EXPECT_EQ(lines, 5);  // at 10, 20, 30, 40 s and the final line
}

TEST(Progress, BarOnATerminal) {
  double now = 0;
  std::ostringstream out;
  Progress p("mmlu", "items", 4, out, true, 10.0, [&] { return now; });
  now = 1;
  p.advance(2);
  p.finish();
  const std::string s = out.str();
  EXPECT_NE(s.find("\r\033[K[###############...............] mmlu 2/4 items, 2.00 items/s, 1 s left"), std::string::npos)
      << s;
  EXPECT_EQ(s.back(), '\n');
}

TEST(Progress, Durations) {
  EXPECT_EQ(format_duration(42.4), "42 s");
  EXPECT_EQ(format_duration(187), "3 min 07 s");
  EXPECT_EQ(format_duration(7500), "2 h 05 min");
}

}  // namespace
}  // namespace hl
