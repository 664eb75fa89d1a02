#include "hybridlens/eval/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <sstream>

namespace hl {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = int64_t(std::llround(seconds));
  char buf[48];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld h %02lld min", (long long)(s / 3600), (long long)(s % 3600 / 60));
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%lld min %02lld s", (long long)(s / 60), (long long)(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld s", (long long)s);
  return buf;
}

bool Progress::stderr_is_tty() { return ::isatty(STDERR_FILENO) == 1; }

Progress::Progress(std::string label, std::string unit, int64_t total, std::ostream& out, bool tty, double interval,
                   Clock clock)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), out_(out), tty_(tty), interval_(interval), clock_(std::move(clock)) {
  if (!clock_) {
    const auto t0 = std::chrono::steady_clock::now();
    clock_ = [t0] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  }
  start_ = clock_();
  last_draw_ = start_;
  if (tty_) draw(false);
}

Progress::~Progress() { finish(); }

std::string Progress::status() const {
  const double elapsed = clock_() - start_;
  const double rate = elapsed > 0 ? double(done_) / elapsed : 0;
  std::ostringstream s;
  s << label_ << " " << done_ << "/" << total_ << " " << unit_;
  char r[32];
  std::snprintf(r, sizeof r, "%.2f", rate);
  s << ", " << r << " " << unit_ << "/s";
  if (done_ >= total_)
    s << ", done in " << format_duration(elapsed);
  else if (rate > 0)
    s << ", " << format_duration(double(total_ - done_) / rate) << " left";
  else
    s << ", time left unknown";
  return s.str();
}

void Progress::draw(bool final_line) {
  if (tty_) {
    const int width = 30;
    const int filled = total_ > 0 ? int(double(width) * double(done_) / double(total_)) : width;
    std::string bar(size_t(filled), '#');
    bar.resize(size_t(width), '.');
    out_ << "\r\033[K[" << bar << "] " << status() << (final_line ? "\n" : "") << std::flush;
  } else {
    out_ << status() << "\n" << std::flush;
  }
}

void Progress::advance(int64_t cells) {
  done_ += cells;
  const double now = clock_();
  const double every = tty_ ? 0.1 : interval_;
  if (done_ < total_ && now - last_draw_ < every) return;
  if (done_ >= total_) return;  // the final state is drawn by finish()
  last_draw_ = now;
  draw(false);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  draw(true);
}

}  // namespace hl
