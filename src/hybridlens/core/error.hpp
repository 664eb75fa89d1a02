#pragma once
// Errors carry what went wrong and where (file, tensor, layer, position). Library code throws;
// the CLI turns an Error into one line on stderr and a non-zero exit.
#include <sstream>
#include <stdexcept>
#include <string>

namespace hl {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream s;
  (s << ... << parts);
  return s.str();
}
}  // namespace detail

template <class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  throw Error(detail::concat(parts...));
}

}  // namespace hl

// HL_CHECK(cond, "message parts", value, ...): throws hl::Error with the parts concatenated.
#define HL_CHECK(cond, ...)                 \
  do {                                      \
    if (!(cond)) ::hl::fail(__VA_ARGS__);   \
  } while (0)
