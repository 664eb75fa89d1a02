#pragma once
// Progress of a long run on stderr: on a terminal a bar redrawn in place (cells done/total, cells/s,
// time left); otherwise a plain line every `interval` seconds and at the end, so logs stay readable.
#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

namespace hl {

class Progress {
 public:
  using Clock = std::function<double()>;  // seconds, monotonic
  // `unit`: what is counted ("cells", "items"). `tty`: draw the bar; otherwise print lines. `interval`:
  // seconds between plain lines (a bar is redrawn at most 10 times a second). `clock` defaults to the
  // steady clock.
  Progress(std::string label, std::string unit, int64_t total, std::ostream& out, bool tty, double interval = 10.0,
           Clock clock = {});
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(int64_t cells = 1);
  // Prints the final state (once); also called by the destructor.
  void finish();
  // The text of the current state, e.g. "niah 40/100 cells, 3.2 cells/s, 18 s left".
  std::string status() const;

  // True when stderr is a terminal.
  static bool stderr_is_tty();

 private:
  void draw(bool final_line);
  std::string label_, unit_;
  int64_t total_, done_ = 0;
  std::ostream& out_;
  bool tty_;
  double interval_;
  Clock clock_;
  double start_, last_draw_;
  bool finished_ = false;
};

// "2 h 05 min", "3 min 07 s", "42 s".
std::string format_duration(double seconds);

}  // namespace hl
