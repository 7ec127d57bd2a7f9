// Enums spelled as words in configs, command lines, logs and files. Each enum lists its words once,
// in an `enum_names(E)` overload next to it (found by argument-dependent lookup):
//
//   enum class Combine { Sum, Mean };
//   constexpr auto enum_names(Combine) {
//     return std::array{std::pair{Combine::Sum, "sum"}, std::pair{Combine::Mean, "mean"}};
//   }
//
// Parsing, printing and the list of accepted words all come from that list, so a mode string is
// read once, where the config or command line is, and compared as an enum everywhere else.
#pragma once

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/errors.h"

namespace gst {

template <typename E, typename = std::enable_if_t<std::is_enum_v<E>>>
std::string_view to_string(E value) {
  for (const auto& [v, name] : enum_names(E{}))
    if (v == value) return name;
  fail("enum value {} has no name", static_cast<int>(value));
}

// The accepted words, in declaration order.
template <typename E>
std::vector<std::string> enum_words() {
  std::vector<std::string> out;
  for (const auto& entry : enum_names(E{})) out.emplace_back(entry.second);
  return out;
}

template <typename E>
std::optional<E> find_enum(std::string_view word) {
  for (const auto& [v, name] : enum_names(E{}))
    if (word == name) return v;
  return std::nullopt;
}

// `word` as an E; otherwise an InputError naming `what` (a key or option) and the accepted words.
template <typename E>
E parse_enum(std::string_view word, std::string_view what) {
  if (auto v = find_enum<E>(word)) return *v;
  input_error("{}: expected one of {}, got '{}'", what, fmt::join(enum_words<E>(), ", "), word);
}

}  // namespace gst
