// `gst synth` and `gst inspect` as a user runs them: exit codes, messages and summaries.
#include <gtest/gtest.h>

#include <filesystem>

#include "data/graph_io.h"
#include "test_support.h"

namespace gst {
namespace {

using testing::gst_binary;
using testing::run_command;
using testing::ScratchDir;

std::string gst(const std::string& args) { return gst_binary() + " " + args; }

TEST(DataCli, BadCommandLinesExitTwo) {
  for (const char* args :
       {"synth --out x", "synth --collection tile:xla",
        "synth --collection tile:xla --out x --bogus", "synth --collection layout:xla --out x",
        "synth --collection tile:xla --out x --graphs 0", "inspect", "inspect x --frobnicate"}) {
    auto r = run_command(gst(args));
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
  }
  auto r = run_command(gst("synth --help"));
  EXPECT_EQ(r.exit_code, 0);
  for (const char* option : {"--collection", "--out", "--graphs", "--seed", "--min-nodes",
                             "--max-nodes", "--configs", "--noise", "--stored", "--overwrite"})
    EXPECT_NE(r.output.find(option), std::string::npos) << option;
}

TEST(DataCli, SynthThenInspectPrintsSummaries) {
  ScratchDir dir("data-cli");
  auto r =
      run_command(gst("synth --collection layout:xla:random --graphs 5 --min-nodes 300 "
                      "--max-nodes 400 --configs 8 --seed 1 --out " +
                      dir.path().string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_command(gst("inspect " + dir.path().string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* part :
       {"collection layout:xla:random", "train: 4 graphs", "valid: 1 graphs",
        "test: no valid graphs", "configs 8", "configurable", "runtime", "opcodes (top 10)"})
    EXPECT_NE(r.output.find(part), std::string::npos) << part << "\n" << r.output;
  // A single file, task inferred from its keys.
  auto file = dir / "npz/layout/xla/random/valid";
  file /= std::filesystem::directory_iterator(file)->path().filename();
  r = run_command(gst("inspect " + file.string()));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("(layout): nodes 3"), std::string::npos) << r.output;

  // Re-running into the same collection refuses unless --overwrite.
  std::string again =
      "synth --collection layout:xla:random --graphs 3 --min-nodes 300 "
      "--max-nodes 400 --configs 8 --out " +
      dir.path().string();
  r = run_command(gst(again));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("already holds 5 graph files; pass --overwrite"), std::string::npos)
      << r.output;
  r = run_command(gst(again + " --overwrite"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = run_command(gst("inspect " + dir.path().string()));
  EXPECT_NE(r.output.find("train: 2 graphs"), std::string::npos) << r.output;
}

TEST(DataCli, InspectFailsOnInvalidFilesNamingThem) {
  ScratchDir dir("data-cli-bad");
  auto r = run_command(
      gst("synth --collection tile:xla --graphs 6 --configs 5 --out " + dir.path().string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto train = dir / "npz/tile/xla/train";
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(train)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::filesystem::resize_file(files[0], 50);
  NpzArrays a = read_npz(files[1]);
  a.erase("config_runtime_normalizers");
  write_npz(files[1], a, true);

  r = run_command(gst("inspect " + files[0].string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("gst: error: " + files[0].string()), std::string::npos) << r.output;
  r = run_command(gst("inspect " + (dir / "npz/tile/xla").string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(files[0].string() + ": cannot open as .npz"), std::string::npos)
      << r.output;
  // --skip-bad goes on, lists every bad file with its reason, and still fails.
  r = run_command(gst("inspect --skip-bad " + dir.path().string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("2 invalid graph file(s)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("missing key 'config_runtime_normalizers'"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("valid: "), std::string::npos) << r.output;
  r = run_command(gst("inspect " + (dir / "nothing").string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("cannot open as .npz"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace gst
