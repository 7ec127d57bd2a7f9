#include "run/checkpoint.h"

#include <gtest/gtest.h>

#include <fstream>

#include "common/errors.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;

gst::CheckpointInfo save(const fs::path& run, int64_t step, const std::string& payload) {
  fs::path staging = gst::begin_checkpoint(run, step);
  std::ofstream(staging / "model.pt") << payload;
  std::ofstream(staging / "rng-rank0.json") << "{}";
  return gst::commit_checkpoint(staging, step, 1);
}

TEST(Checkpoint, CommitListsAndVerifies) {
  gst::testing::ScratchDir dir("ckpt");
  save(dir.path(), 10, "ten");
  save(dir.path(), 20, "twenty");
  auto all = gst::list_checkpoints(dir.path());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].step, 20);
  EXPECT_EQ(gst::verify_checkpoint(all[0].dir).step, 20);
  EXPECT_FALSE(fs::exists(dir / ".step-20.tmp"));
}

TEST(Checkpoint, DirectoryWithoutManifestIsIgnored) {
  gst::testing::ScratchDir dir("ckpt");
  save(dir.path(), 10, "ten");
  fs::create_directories(dir / "step-30");
  std::ofstream(dir / "step-30" / "model.pt") << "half written";
  auto newest = gst::newest_valid_checkpoint(dir.path());
  ASSERT_TRUE(newest);
  EXPECT_EQ(newest->step, 10);
}

TEST(Checkpoint, CorruptedNewestFallsBackToPrevious) {
  gst::testing::ScratchDir dir("ckpt");
  save(dir.path(), 10, "ten");
  save(dir.path(), 20, "twenty");
  {
    std::fstream f(dir / "step-20" / "model.pt", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(2);
    f.put('X');
  }
  EXPECT_THROW(gst::verify_checkpoint(dir / "step-20"), gst::InputError);
  auto newest = gst::newest_valid_checkpoint(dir.path());
  ASSERT_TRUE(newest);
  EXPECT_EQ(newest->step, 10);
}

TEST(Checkpoint, PruneKeepsLastK) {
  gst::testing::ScratchDir dir("ckpt");
  for (int64_t s : {1, 2, 3, 4}) save(dir.path(), s, "x");
  gst::prune_checkpoints(dir.path(), 2);
  auto all = gst::list_checkpoints(dir.path());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].step, 4);
  EXPECT_EQ(all[1].step, 3);
  gst::prune_checkpoints(dir.path(), 0);  // never below the newest one
  EXPECT_EQ(gst::list_checkpoints(dir.path()).size(), 1u);
}

TEST(Checkpoint, ResavingTheSameStepReplacesIt) {
  gst::testing::ScratchDir dir("ckpt");
  save(dir.path(), 5, "first");
  save(dir.path(), 5, "second");
  std::ifstream in(dir / "step-5" / "model.pt");
  std::string text;
  in >> text;
  EXPECT_EQ(text, "second");
  EXPECT_EQ(gst::verify_checkpoint(dir / "step-5").step, 5);
}

}  // namespace
