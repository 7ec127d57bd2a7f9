// A rank that throws ends the whole mpirun job promptly with a non-zero exit code, the rank and the
// reason in the log, never a hang (through the real `gst` entry point).
#include <gtest/gtest.h>

#include <chrono>

#include "test_support.h"

namespace gst {
namespace {

using testing::run_command;

std::string mpirun(int ranks, const std::string& args) {
  return testing::mpirun_gst(ranks, args, /*timeout_s=*/60);
}

TEST(DistFault, CommCheckPassesOnTwoRanks) {
  auto result = run_command(mpirun(2, "comm-check"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("comm-check passed: 2 ranks"), std::string::npos) << result.output;
}

TEST(DistFault, ThrowingRankAbortsTheJobPromptly) {
  for (auto [ranks, failing] : {std::pair{2, 1}, std::pair{3, 2}}) {
    const auto start = std::chrono::steady_clock::now();
    auto result = run_command(testing::with_faults(
        "fail:comm-check.start,rank=" + std::to_string(failing), mpirun(ranks, "comm-check")));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_NE(result.exit_code, 0) << result.output;
    EXPECT_NE(result.exit_code, 124) << "the job hung until timeout killed it:\n" << result.output;
    EXPECT_LT(seconds, 30) << result.output;
    const std::string expected = "rank " + std::to_string(failing) + " of " +
                                 std::to_string(ranks) + " failed: injected fault on rank " +
                                 std::to_string(failing) + " at comm-check.start";
    EXPECT_NE(result.output.find(expected), std::string::npos) << result.output;
  }
}

}  // namespace
}  // namespace gst
