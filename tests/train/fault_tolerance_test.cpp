// Faults around checkpoints: a rank killed with SIGKILL under mpirun (the job ends promptly and
// --resume auto reproduces the uninterrupted losses), a checkpoint directory that cannot be
// written (clear error, the previous checkpoint intact and used), and pruning that never counts
// incomplete checkpoints.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "common/errors.h"
#include "run/checkpoint.h"
#include "test_support.h"
#include "train_fixtures.h"

namespace {

namespace fs = std::filesystem;
using gst::testing::run_command;
using gst::testing::train_losses;

class FaultToleranceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new gst::testing::ScratchDir("faults");
    gst::testing::make_fault_store(dir_->path() / "store");
  }
  static void TearDownTestSuite() { delete dir_; }

  // A tiny model (hidden 16) so a step costs milliseconds; `extra` adds --set overrides.
  static std::string train_args(const std::string& name, const fs::path& run,
                                const std::string& extra) {
    const fs::path config = gst::testing::write_text(
        dir_->path() / (name + ".yaml"), gst::testing::tiny_run_yaml(dir_->path() / "store", run));
    return "train --config " + config.string() +
           " --set model.hidden=16 --set model.projection=16 --set model.head_hidden=16"
           " --set train.batch_graphs=2 --set train.valid_graphs=2" +
           extra;
  }
  // Two ranks, mpirun the shell's direct child: the kill test finds the ranks among its children.
  static std::string mpirun2() { return gst::testing::mpirun_gst(2, "", /*timeout_s=*/0); }
  static gst::testing::ScratchDir* dir_;
};
gst::testing::ScratchDir* FaultToleranceTest::dir_ = nullptr;

// SIGKILL to rank 1 mid-run: mpirun must end the whole job (rank 0 would otherwise wait in a
// collective forever) within 30 s, naming the dead rank. --resume auto then continues from the
// newest checkpoint and reproduces the uninterrupted run's losses bit for bit.
TEST_F(FaultToleranceTest, KilledRankEndsJobAndResumeReproducesLosses) {
  const std::string every = " --set train.steps=100 --set train.checkpoint_every=5";
  const fs::path full = dir_->path() / "full", cut = dir_->path() / "cut";
  auto r = run_command(mpirun2() + train_args("full", full, every) + " 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.output;

  const std::string script = gst::testing::signal_rank_script(
      mpirun2() + train_args("cut", cut, every), cut.string() + "/step-*/manifest.json", 1, "9", 30,
      (dir_->path() / "cut.log").string());
  auto k = run_command(script);
  const double rc = gst::testing::output_field(k.output, "rc");
  const double seconds = gst::testing::output_field(k.output, "seconds");
  std::cout << "job ended " << seconds << " s after kill -9 of rank 1 (mpirun exit " << rc << ")\n";
  EXPECT_EQ(k.output.find("HUNG"), std::string::npos) << k.output;
  EXPECT_GT(rc, 0) << k.output;
  EXPECT_GE(seconds, 0) << k.output;
  EXPECT_LT(seconds, 30) << k.output;
  EXPECT_NE(k.output.find("rank 1"), std::string::npos) << k.output;
  EXPECT_NE(k.output.find("signal 9"), std::string::npos) << k.output;
  const auto kept = gst::list_checkpoints(cut);
  ASSERT_FALSE(kept.empty()) << k.output;
  ASSERT_LT(kept.front().step, 100) << "the run finished before the kill:\n" << k.output;

  auto resumed = run_command(mpirun2() + train_args("cut", cut, every) + " --resume auto 2>&1");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  const int64_t from = kept.front().step;
  EXPECT_NE(
      resumed.output.find("resumed from " + (cut / ("step-" + std::to_string(from))).string()),
      std::string::npos)
      << resumed.output;
  std::cout << "resumed from step " << from << "\n";
  // Every step's randomness derives from (seed, rank, step) and the checkpoint restores the
  // exact parameters and optimizer moments, so the losses match exactly, not approximately.
  const auto a = train_losses(full), b = train_losses(cut);
  ASSERT_EQ(a.size(), 100u);
  EXPECT_EQ(a, b);
}

// The file size limit (RLIMIT_FSIZE, SIGXFSZ ignored so writes fail with EFBIG) stands in for a
// full disk under mpirun: the step-8 checkpoint cannot be written. The error names the file and
// the reason, nothing of step 8 is left, step 4 still verifies, and --resume auto continues from
// it.
TEST_F(FaultToleranceTest, UnwritableCheckpointKeepsThePreviousOne) {
  const fs::path run = dir_->path() / "full_disk";
  const std::string every = " --set train.checkpoint_every=4";
  auto first =
      run_command(mpirun2() + train_args("full_disk", run, every) + " --set train.steps=4 2>&1");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const fs::path step4 = run / "step-4";
  ASSERT_EQ(gst::verify_checkpoint(step4).step, 4);
  const auto model_bytes = fs::file_size(step4 / "model.pt");
  const auto metrics_bytes = fs::file_size(run / "metrics.jsonl");
  // Below the model file, well above the metrics log the resumed run appends to.
  const auto limit = model_bytes / 2;
  ASSERT_GT(limit, 4 * metrics_bytes) << "model.pt is too small for this test";

  // Only the ranks get the limit (mpirun's own session files must stay writable), and Open MPI
  // resets signal dispositions in the processes it starts, hence the shell around each rank.
  // The shared-memory transport sizes its backing file past the limit, so ranks talk over TCP.
  auto full = run_command(gst::testing::mpirun(
      2,
      "sh -c \"trap '' XFSZ; exec prlimit --fsize=" + std::to_string(limit) + " " +
          gst::testing::gst_binary() + " " + train_args("full_disk", run, every) +
          " --set train.steps=8 --resume auto\"",
      /*timeout_s=*/0, "--mca btl self,tcp"));
  EXPECT_NE(full.exit_code, 0) << full.output;
  EXPECT_NE(full.output.find("checkpoint at step 8 not saved"), std::string::npos) << full.output;
  EXPECT_NE(full.output.find((run / ".step-8.tmp/").string()), std::string::npos) << full.output;
  EXPECT_NE(full.output.find("File too large"), std::string::npos) << full.output;
  EXPECT_FALSE(fs::exists(run / "step-8"));
  EXPECT_EQ(gst::verify_checkpoint(step4).step, 4);
  ASSERT_TRUE(gst::newest_valid_checkpoint(run));
  EXPECT_EQ(gst::newest_valid_checkpoint(run)->step, 4);

  auto resumed = run_command(mpirun2() + train_args("full_disk", run, every) +
                             " --set train.steps=8 --resume auto 2>&1");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resumed from " + step4.string()), std::string::npos)
      << resumed.output;
  EXPECT_EQ(gst::list_checkpoints(run).front().step, 8);
  EXPECT_FALSE(fs::exists(run / ".step-8.tmp"));
}

// A newer directory without a manifest (a save cut off mid-way) does not count towards
// keep_checkpoints, so pruning keeps the newest complete checkpoint.
TEST(CheckpointFiles, IncompleteNewerDirectoryNeverCostsTheNewestComplete) {
  gst::testing::ScratchDir dir("prune");
  for (int64_t step : {5, 10}) {
    const fs::path staging = gst::begin_checkpoint(dir.path(), step);
    gst::write_checkpoint_file(staging / "model.pt", "step " + std::to_string(step));
    gst::commit_checkpoint(staging, step, 1);
  }
  fs::create_directories(dir / "step-15");
  std::ofstream(dir / "step-15" / "model.pt") << "cut off";
  gst::begin_checkpoint(dir.path(), 20);  // staged, never committed
  gst::prune_checkpoints(dir.path(), 1);
  const auto kept = gst::list_checkpoints(dir.path());
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].step, 10);
  EXPECT_EQ(gst::verify_checkpoint(kept[0].dir).step, 10);
}

// A directory that cannot hold files (here a path component is a regular file, which stops root
// too): the error names the file and the system's reason.
TEST(CheckpointFiles, UnwritableFileNamesPathAndReason) {
  gst::testing::ScratchDir dir("unwritable");
  std::ofstream(dir / "blocker") << "a file, not a directory";
  const fs::path file = dir / "blocker" / "model.pt";
  try {
    gst::write_checkpoint_file(file, "bytes");
    FAIL() << "writing under a regular file succeeded";
  } catch (const gst::Error& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Not a directory"), std::string::npos) << e.what();
  }
}

}  // namespace
