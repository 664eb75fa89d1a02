#include "hybridlens/io/json_file.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "hybridlens/core/error.hpp"

namespace hl {

// nlohmann's messages start with "[json.exception.parse_error.101] "; the id means nothing to a user.
std::string json_error_message(const nlohmann::json::exception& e) {
  std::string s = e.what();
  if (!s.empty() && s[0] == '[') {
    const size_t close = s.find("] ");
    if (close != std::string::npos) s.erase(0, close + 2);
  }
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

nlohmann::json parse_json_text(std::string_view text, const std::string& source) {
  // nlohmann's lexer stops at a NUL byte as if the input ended there; JSON never contains a raw NUL.
  const size_t nul = text.find('\0');
  if (nul != std::string_view::npos) fail(source, ": invalid JSON: NUL byte at offset ", nul);
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    fail(source, ": invalid JSON: ", json_error_message(e));
  }
}

nlohmann::json read_json_file(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) fail(path, ": cannot open: No such file or directory");
  if (!std::filesystem::is_regular_file(status)) fail(path, ": cannot open: not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open: ", std::strerror(errno));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) fail(path, ": read error");
  return parse_json_text(buf.str(), path);
}

}  // namespace hl
