#include "common/fault.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <thread>

#include "common/enum_names.h"
#include "common/errors.h"

namespace gst {

namespace {

constexpr const char* kVariable = "GST_FAULT";

std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char separator) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t end = s.find(separator, start);
    out.push_back(trim(s.substr(start, end == std::string_view::npos ? end : end - start)));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

std::vector<std::string> point_names() {
  std::vector<std::string> names;
  for (const auto& [name, count] : fault_points()) names.push_back(name);
  return names;
}

// The rule being parsed, for messages that name it and the grammar.
struct RuleText {
  std::string_view all, rule;
  [[noreturn]] void bad(const std::string& what) const {
    input_error(
        "{}='{}': rule '{}': {}; expected KIND:POINT[,rank=R][,at=N][,seconds=S] with KIND one of "
        "{} and POINT one of {}",
        kVariable, all, rule, what, fmt::join(enum_words<FaultKind>(), ", "),
        fmt::join(point_names(), ", "));
  }
  template <typename T>
  T number(std::string_view key, std::string_view value) const {
    T out{};
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
    if (ec != std::errc() || end != value.data() + value.size() || out < 0)
      bad(fmt::format("'{}' needs a non-negative number, got '{}'", key, value));
    return out;
  }
};

void parse_field(const RuleText& text, std::string_view field, FaultRule& rule) {
  const size_t eq = field.find('=');
  if (eq == std::string_view::npos) text.bad(fmt::format("'{}' is not key=value", field));
  const std::string_view key = trim(field.substr(0, eq)), value = trim(field.substr(eq + 1));
  if (key == "rank")
    rule.rank = text.number<int>(key, value);
  else if (key == "at")
    rule.at = text.number<int64_t>(key, value);
  else if (key == "seconds")
    rule.seconds = text.number<double>(key, value);
  else
    text.bad(fmt::format("unknown key '{}' (rank, at, seconds)", key));
}

FaultRule parse_rule(const RuleText& text) {
  const size_t colon = text.rule.find(':');
  if (colon == std::string_view::npos) text.bad("no ':' after the kind");
  FaultRule rule;
  const auto kind = find_enum<FaultKind>(trim(text.rule.substr(0, colon)));
  if (!kind) text.bad(fmt::format("unknown kind '{}'", trim(text.rule.substr(0, colon))));
  rule.kind = *kind;
  const std::vector<std::string_view> parts = split(text.rule.substr(colon + 1), ',');
  rule.point = std::string(parts.front());
  const std::vector<std::string> points = point_names();
  if (std::find(points.begin(), points.end(), rule.point) == points.end())
    text.bad(fmt::format("unknown point '{}'", rule.point));
  for (size_t i = 1; i < parts.size(); ++i) parse_field(text, parts[i], rule);
  if (rule.kind == FaultKind::Stall && !(rule.seconds > 0)) text.bad("a stall needs seconds > 0");
  if (rule.kind != FaultKind::Stall && rule.seconds != 0) text.bad("only a stall takes seconds");
  return rule;
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& fault_points() {
  // A feature that adds a point lists it here and calls FaultPlan::hit there.
  static const std::vector<std::pair<std::string, std::string>> points = {
      {"train.step", "before each training step, on every rank; count: the step (0-based)"},
      {"shard.file-written", "gst shard, after each complete shard file; count: files written"},
      {"comm-check.start", "gst comm-check, before the first collective; count: 0"},
      {"store.read",
       "gst train, before each segment read of a training step; count: this rank's reads so far"},
  };
  return points;
}

FaultPlan FaultPlan::parse(std::string_view text) {
  FaultPlan plan;
  for (std::string_view rule : split(text, ';'))
    if (!rule.empty()) plan.rules_.push_back(parse_rule({text, rule}));
  return plan;
}

FaultPlan FaultPlan::from_environment() {
  const char* text = std::getenv(kVariable);
  return text ? parse(text) : FaultPlan();
}

void FaultPlan::hit(std::string_view point, int rank, int64_t count) const {
  for (const FaultRule& r : rules_) {
    if (r.point != point || (r.rank && *r.rank != rank) || (r.at && *r.at != count)) continue;
    switch (r.kind) {
      case FaultKind::Stall:
        spdlog::warn("{}: rank {} stalls {} s at {} {}", kVariable, rank, r.seconds, point, count);
        std::this_thread::sleep_for(std::chrono::duration<double>(r.seconds));
        break;
      case FaultKind::Fail:
        fail("injected fault on rank {} at {} {} ({})", rank, point, count, kVariable);
      case FaultKind::Kill:
        spdlog::default_logger()->flush();
        std::raise(SIGKILL);
        break;
      case FaultKind::Exit:
        spdlog::warn("{}: rank {} exits with code 0 at {} {}", kVariable, rank, point, count);
        spdlog::default_logger()->flush();
        std::exit(0);
    }
  }
}

}  // namespace gst
