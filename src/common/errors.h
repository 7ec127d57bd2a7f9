// gst's error type and the check helpers every library call goes through.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace gst {

// Every failure gst reports: the message names the file, key or config line and what was expected.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A failure in the user's input (bad file, bad config), as opposed to a bug or a system error.
class InputError : public Error {
 public:
  using Error::Error;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void input_error(fmt::format_string<Args...> format, Args&&... args) {
  throw InputError(fmt::format(format, std::forward<Args>(args)...));
}

// The file name of a source path, without its directories: messages name gst's source files but
// never the paths of the machine that built gst (what __FILE__ holds).
constexpr const char* source_file_name(const char* path) {
  const char* name = path;
  for (const char* p = path; *p; ++p)
    if (*p == '/' || *p == '\\') name = p + 1;
  return name;
}

}  // namespace gst

// Throws gst::Error naming the failed condition and its source file and line.
#define GST_CHECK(cond, ...)                                                                    \
  do {                                                                                          \
    if (!(cond))                                                                                \
      throw ::gst::Error(fmt::format("{} ({}:{}: check '{}' failed)", fmt::format(__VA_ARGS__), \
                                     ::gst::source_file_name(__FILE__), __LINE__, #cond));      \
  } while (0)
