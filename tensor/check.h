// Throwing checks that carry the failed expression and file:line.
// Public functions validate their inputs once, at the boundary, with SAD_CHECK; the
// message says what the caller did wrong (op name, shapes), not what the code does.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace sad {

// Every error sparsead raises on purpose is a sad::Error (a std::runtime_error), so the
// command line can print it as one line and exit non-zero.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail_check(const char* expr, const char* file, int line, const std::string& msg);

namespace detail {
// Builds a message from any streamable pieces: SAD_CHECK(x, "op ", name, ": bad ", n).
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace sad

#define SAD_CHECK(expr, ...)                                                            \
  do {                                                                                  \
    if (!(expr)) [[unlikely]]                                                           \
      ::sad::fail_check(#expr, __FILE__, __LINE__, ::sad::detail::concat(__VA_ARGS__)); \
  } while (0)

#define SAD_FAIL(...) ::sad::fail_check(nullptr, __FILE__, __LINE__, ::sad::detail::concat(__VA_ARGS__))
