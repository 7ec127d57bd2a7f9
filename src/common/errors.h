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

}  // namespace gst

// Throws gst::Error naming the failed condition and its source location.
#define GST_CHECK(cond, ...)                                                                    \
  do {                                                                                          \
    if (!(cond))                                                                                \
      throw ::gst::Error(fmt::format("{} ({}:{}: check '{}' failed)", fmt::format(__VA_ARGS__), \
                                     __FILE__, __LINE__, #cond));                               \
  } while (0)
