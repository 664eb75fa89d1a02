#include "hybridlens/eval/command_line.hpp"

#include <fstream>
#include <iterator>

namespace hl {

std::string current_command_line() {
  std::ifstream f("/proc/self/cmdline", std::ios::binary);
  if (!f) return "";
  const std::string raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::string out;
  size_t at = 0;
  while (at < raw.size()) {
    size_t end = raw.find('\0', at);
    if (end == std::string::npos) end = raw.size();
    std::string arg = raw.substr(at, end - at);
    if (!out.empty()) out += ' ';
    if (arg.empty() || arg.find_first_of(" \t\n'\"\\$") != std::string::npos) {
      std::string q = "'";
      for (char c : arg) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
      arg = q + "'";
    }
    out += arg;
    at = end + 1;
  }
  return out;
}

}  // namespace hl
