// Fault injection for tests and drills: the one mechanism by which any gst command is made to fail,
// crash or stall at a named point on a named rank. The plan comes from the environment variable
// GST_FAULT (grammar and points in src/common/README.md), e.g.
//
//   GST_FAULT='fail:train.step,rank=1,at=21'            rank 1 throws before step 21
//   GST_FAULT='kill:shard.file-written,at=2'            gst shard dies after its 2nd shard file
//   GST_FAULT='stall:comm-check.start,rank=0,seconds=5' rank 0 sleeps 5 s before its collectives
//
// Each command reads the plan once when it starts (a malformed one is an error then, before any
// work) and calls hit() at its points.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gst {

// fail: throw gst::Error (the rank's ordinary error path, which ends the job); kill: SIGKILL, as a
// crashed or OOM-killed process (no cleanup); stall: sleep, as a rank stuck in I/O or a collective;
// exit: exit code 0 at once (MPI finalized on the way out), as a rank whose command returned early
// by mistake while the others go on.
enum class FaultKind { Fail, Kill, Stall, Exit };
constexpr auto enum_names(FaultKind) {
  return std::array{std::pair{FaultKind::Fail, "fail"}, std::pair{FaultKind::Kill, "kill"},
                    std::pair{FaultKind::Stall, "stall"}, std::pair{FaultKind::Exit, "exit"}};
}

struct FaultRule {
  FaultKind kind = FaultKind::Fail;
  std::string point;          // one of fault_points()
  std::optional<int> rank;    // unset: every rank
  std::optional<int64_t> at;  // unset: every hit; else only the hit whose count is this
  double seconds = 0;         // stall only
};

// The points a rule may name, with what their count is (for messages and the README).
const std::vector<std::pair<std::string, std::string>>& fault_points();

class FaultPlan {
 public:
  FaultPlan() = default;  // no faults
  // Parses the GST_FAULT grammar; an InputError names GST_FAULT, the bad rule and what was
  // expected.
  static FaultPlan parse(std::string_view text);
  // The plan in GST_FAULT now (no faults when it is unset or empty).
  static FaultPlan from_environment();

  // Runs the rules for `point` that match `rank` and `count`, in order: a stall returns after
  // sleeping, fail throws, kill does not return.
  void hit(std::string_view point, int rank, int64_t count) const;

  const std::vector<FaultRule>& rules() const { return rules_; }

 private:
  std::vector<FaultRule> rules_;
};

}  // namespace gst
