// The collective watchdog under mpirun (dist.timeout_s): a stopped rank ends the job within
// timeout + 10 s with exit code 4 and a stall report naming it, on 2 and 4 ranks, and --resume
// auto continues; so does a rank stuck in a store read, and a rank that exits early with code 0;
// a rank paused for less than the timeout (slow but alive) does not trip it.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "comm/communicator.h"
#include "run/checkpoint.h"
#include "test_support.h"
#include "train_fixtures.h"

namespace {

namespace fs = std::filesystem;
using gst::testing::output_field;
using gst::testing::run_command;

constexpr int kTimeoutS = 5;

class StallTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new gst::testing::ScratchDir("stall");
    gst::testing::make_fault_store(dir_->path() / "store");
  }
  static void TearDownTestSuite() { delete dir_; }

  // mpirun (the shell's direct child) of a tiny-model run that checkpoints every 5 steps.
  static std::string job(int ranks, const fs::path& run, const std::string& extra) {
    const fs::path config =
        gst::testing::write_text(dir_->path() / (run.filename().string() + ".yaml"),
                                 gst::testing::tiny_run_yaml(dir_->path() / "store", run));
    return gst::testing::mpirun_gst(ranks, "", /*timeout_s=*/0) + "train --config " +
           config.string() +
           " --set model.hidden=16 --set model.projection=16 --set model.head_hidden=16"
           " --set train.batch_graphs=2 --set train.valid_every=0 --set train.checkpoint_every=5"
           " --set dist.timeout_s=" +
           std::to_string(kTimeoutS) + extra;
  }
  static gst::testing::ScratchDir* dir_;
};
gst::testing::ScratchDir* StallTest::dir_ = nullptr;

// kill -STOP of one rank, as a wedged read or device would leave it: the other ranks' watchdog
// ends the job and names it; the newest checkpoint is intact and --resume auto continues.
TEST_F(StallTest, StoppedRankIsNamedAndTheJobEndsWithinTheTimeout) {
  for (auto [ranks, victim] : {std::pair{2, 1}, std::pair{4, 2}}) {
    const fs::path run = dir_->path() / ("stopped" + std::to_string(ranks));
    const std::string script = gst::testing::signal_rank_script(
        job(ranks, run, " --set train.steps=100000"), run.string() + "/step-*/manifest.json",
        victim, "STOP", kTimeoutS + 30, (run.string() + ".log"));
    auto k = run_command(script);
    const double rc = output_field(k.output, "rc"), seconds = output_field(k.output, "seconds");
    std::cout << ranks << " ranks: job ended " << seconds << " s after kill -STOP of rank "
              << victim << " (timeout " << kTimeoutS << " s, mpirun exit " << rc << ")\n";
    EXPECT_EQ(k.output.find("HUNG"), std::string::npos) << k.output;
    EXPECT_EQ(rc, gst::kStalledExitCode) << k.output;
    EXPECT_GE(seconds, kTimeoutS - 1) << k.output;
    EXPECT_LT(seconds, kTimeoutS + 10) << k.output;
    EXPECT_NE(k.output.find("not arrived: rank " + std::to_string(victim) + " "), std::string::npos)
        << k.output;
    EXPECT_NE(k.output.find("did not complete within dist.timeout_s"), std::string::npos)
        << k.output;

    const auto kept = gst::list_checkpoints(run);
    ASSERT_FALSE(kept.empty()) << k.output;
    EXPECT_EQ(gst::verify_checkpoint(kept.front().dir).step, kept.front().step);
    const int64_t until = kept.front().step + 3;
    auto resumed = run_command(job(ranks, run, " --set train.steps=" + std::to_string(until)) +
                               " --resume auto 2>&1");
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    EXPECT_NE(resumed.output.find("resumed from " + kept.front().dir.string()), std::string::npos)
        << resumed.output;
    EXPECT_EQ(gst::list_checkpoints(run).front().step, until);
  }
}

// GST_FAULT makes rank 1 misbehave at its 20th store read or its 10th step; the job must end well
// before the fault would have (a 120 s stall, or never), naming rank 1.
TEST_F(StallTest, RankStuckInAReadOrGoneEarlyIsNamed) {
  for (const std::string plan :
       {"stall:store.read,rank=1,at=20,seconds=120", "exit:train.step,rank=1,at=10"}) {
    const fs::path run = dir_->path() / ("fault" + std::to_string(plan.size()));
    const auto start = std::chrono::steady_clock::now();
    auto r = run_command(
        gst::testing::with_faults(plan, job(2, run, " --set train.steps=100000") + " 2>&1"));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << plan << ": job ended after " << seconds << " s, exit code " << r.exit_code << "\n";
    EXPECT_EQ(r.exit_code, gst::kStalledExitCode) << r.output;
    EXPECT_LT(seconds, 60) << r.output;
    EXPECT_NE(r.output.find("not arrived: rank 1 "), std::string::npos) << r.output;
  }
}

// A rank paused for 60% of the timeout, then continued (a slow read that returns): the run
// finishes normally. The margin is reported: the pause against the timeout.
TEST_F(StallTest, SlowButAliveRankDoesNotTrip) {
  const fs::path run = dir_->path() / "slow";
  const double pause_s = 0.6 * kTimeoutS;
  const std::string script = gst::testing::signal_rank_script(
      job(2, run, " --set train.steps=40"), run.string() + "/step-*/manifest.json", 1, "STOP",
      kTimeoutS + 60, run.string() + ".log",
      "sleep " + std::to_string(pause_s) + "; kill -CONT $victim");
  auto k = run_command(script);
  std::cout << "rank 1 paused " << pause_s << " s of a " << kTimeoutS << " s timeout\n";
  EXPECT_EQ(k.output.find("HUNG"), std::string::npos) << k.output;
  EXPECT_EQ(output_field(k.output, "rc"), 0) << k.output;
  EXPECT_EQ(k.output.find("watchdog"), std::string::npos) << k.output;
  EXPECT_EQ(gst::list_checkpoints(run).front().step, 40) << k.output;
}

}  // namespace
