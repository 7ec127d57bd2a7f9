#include "run/checkpoint.h"

#include <gtest/gtest.h>

#include <fstream>

#include "common/errors.h"
#include "run/torch_file.h"
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

// Flips one byte of `file` in place.
void damage(const fs::path& file) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(2);
  char c = 0;
  f.get(c);
  f.seekp(2);
  f.put(static_cast<char>(c ^ 0x5a));
}

// The message of the InputError `f` throws ("" and a test failure when it throws none).
template <typename F>
std::string input_error_message(F&& f) {
  try {
    f();
  } catch (const gst::InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no InputError";
  return "";
}

TEST(CheckpointErrors, DamagedFileIsNamedRelativeWithThePreviousCheckpointToResume) {
  gst::testing::ScratchDir dir("ckpt_errors");
  gst::testing::WorkingDirectory cwd(dir.path());
  save("run", 10, "ten");
  save("run", 20, "twenty");
  damage(fs::path("run") / "step-20" / "model.pt");
  const std::string message =
      input_error_message([] { gst::verify_checkpoint(fs::path("run") / "step-20"); });
  EXPECT_NE(message.find("run/step-20/model.pt: checksum mismatch"), std::string::npos) << message;
  EXPECT_NE(message.find("resume from the previous checkpoint with `--resume run/step-10`"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find(dir.path().string()), std::string::npos) << message;
}

TEST(CheckpointErrors, DamagedOnlyCheckpointSaysThereIsNoEarlierOne) {
  gst::testing::ScratchDir dir("ckpt_errors");
  save(dir.path(), 10, "ten");
  damage(dir / "step-10" / "model.pt");
  const std::string message = input_error_message([&] { gst::verify_checkpoint(dir / "step-10"); });
  EXPECT_NE(message.find((dir / "step-10" / "model.pt").string()), std::string::npos) << message;
  EXPECT_NE(message.find("no earlier checkpoint to `--resume` from"), std::string::npos) << message;
}

TEST(CheckpointErrors, UnloadableTorchFileNamesItAndThePreviousCheckpoint) {
  gst::testing::ScratchDir dir("ckpt_errors");
  gst::testing::WorkingDirectory cwd(dir.path());
  save("run", 10, "ten");
  save("run", 20, "not a torch file");
  torch::nn::Linear module(2, 2);
  const std::string message = input_error_message(
      [&] { gst::load_torch_file(module, fs::path("run") / "step-20" / "model.pt", torch::kCPU); });
  EXPECT_NE(message.find("run/step-20/model.pt: cannot load it"), std::string::npos) << message;
  EXPECT_NE(message.find("`--resume run/step-10`"), std::string::npos) << message;
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
