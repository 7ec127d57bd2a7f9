// gst train under mpirun: multi-rank runs, resume on another world size, a failing rank, and
// preemption by signal (tiny synthetic store; ranks run with one torch thread).
#include <gtest/gtest.h>

#include <chrono>

#include "run/checkpoint.h"
#include "test_support.h"
#include "train_fixtures.h"

namespace {

namespace fs = std::filesystem;
using gst::testing::mpirun_gst;
using gst::testing::run_command;
using gst::testing::train_losses;
using gst::testing::with_faults;

class DistributedTrainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new gst::testing::ScratchDir("dist_train");
    gst::testing::TinyStore s;
    s.train = 16;
    s.shards = 3;
    gst::testing::make_store(dir_->path() / "store", s);
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string config(const std::string& name, const fs::path& run) {
    return gst::testing::write_text(dir_->path() / (name + ".yaml"),
                                    gst::testing::tiny_run_yaml(dir_->path() / "store", run))
        .string();
  }
  static gst::testing::ScratchDir* dir_;
};
gst::testing::ScratchDir* DistributedTrainTest::dir_ = nullptr;

// Train on 2 ranks and stop; resume on 1 and on 3 ranks: the model, optimizer and re-sharded
// table load, and the loss continues near where it was.
TEST_F(DistributedTrainTest, ResumeOnAnotherWorldSize) {
  const fs::path run = dir_->path() / "resize";
  const std::string common =
      " --set train.steps=40 --set train.log_every=4"
      " --set train.checkpoint_every=20 --set train.lr=0.002";
  auto r =
      run_command(with_faults("fail:train.step,rank=1,at=21",
                              mpirun_gst(2, "train --config " + config("resize", run) + common)));
  ASSERT_NE(r.exit_code, 0) << r.output;
  ASSERT_EQ(gst::list_checkpoints(run).front().step, 20) << r.output;
  const auto before = train_losses(run);
  ASSERT_FALSE(before.empty());
  EXPECT_TRUE(fs::exists(run / "step-20" / "history-rank1.bin"));
  const double last = before.rbegin()->second;

  for (int ranks : {1, 3}) {
    const fs::path copy = dir_->path() / ("resize" + std::to_string(ranks));
    fs::copy(run, copy, fs::copy_options::recursive);
    auto resumed = run_command(
        mpirun_gst(ranks, "train --config " + config("resize", copy) + common + " --resume auto"));
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    EXPECT_NE(resumed.output.find("written by 2 ranks"), std::string::npos) << resumed.output;
    const auto after = train_losses(copy);
    auto first = std::find_if(after.begin(), after.end(), [](auto& p) { return p.first > 20; });
    ASSERT_NE(first, after.end());
    // Smooth continuation: not a restart from scratch (whose loss is far higher).
    EXPECT_LT(first->second, last * 1.5 + 0.02) << "ranks " << ranks;
    EXPECT_EQ(after.rbegin()->first, 40);
  }
}

TEST_F(DistributedTrainTest, FailingRankEndsTheJobPromptly) {
  const fs::path run = dir_->path() / "fault";
  const auto start = std::chrono::steady_clock::now();
  auto r = run_command(with_faults("fail:train.step,rank=1,at=3",
                                   mpirun_gst(2, "train --config " + config("fault", run))));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.exit_code, 124) << "hung until the timeout:\n" << r.output;
  EXPECT_LT(seconds, 60);
  EXPECT_NE(r.output.find("rank 1 of 2 failed: injected fault on rank 1 at train.step 3"),
            std::string::npos)
      << r.output;
}

TEST_F(DistributedTrainTest, PreemptionCheckpointsEveryRankAndExitsWithCode3) {
  const fs::path run = dir_->path() / "preempt";
  // mpirun itself gets the signal (as under Slurm) and forwards SIGUSR1 to its ranks; the job is
  // killed if it has not stopped 60 s later.
  const std::string cmd =
      mpirun_gst(2, "train --config " + config("preempt", run), /*timeout_s=*/0) +
      " --set train.steps=100000 > " + run.string() + ".log 2>&1 & pid=$!; " +
      "for i in $(seq 900); do grep -q '\"step\":3,' " + (run / "metrics.jsonl").string() +
      " 2>/dev/null && break; sleep 0.1; done; kill -USR1 $pid; " +
      "for i in $(seq 600); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done; " +
      "kill -9 $pid 2>/dev/null; wait $pid; echo exit=$?; cat " + run.string() + ".log";
  auto r = run_command(cmd);
  EXPECT_NE(r.output.find("exit=3"), std::string::npos) << r.output;
  auto kept = gst::list_checkpoints(run);
  ASSERT_EQ(kept.size(), 1u) << r.output;
  EXPECT_EQ(kept[0].world_size, 2);
  EXPECT_TRUE(fs::exists(kept[0].dir / "history-rank0.bin"));
  EXPECT_TRUE(fs::exists(kept[0].dir / "history-rank1.bin"));
  EXPECT_TRUE(fs::exists(kept[0].dir / "rng-rank1.json"));
}

}  // namespace
