// std::filesystem stays in libstdc++ even where another library exports a (crashing) copy.
#include "common/library_order.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "test_support.h"

namespace {

using gst::testing::gst_binary;
using gst::testing::run_command;

TEST(LibraryOrder, FilesystemResolvesIntoTheStandardLibrary) {
  EXPECT_NE(gst::filesystem_library().find("libstdc++"), std::string::npos)
      << gst::filesystem_library();
}

TEST(LibraryOrder, GstRerunsWithLibstdcxxFirstWhenAnotherLibraryExportsFilesystem) {
  const std::string preload = std::string("env LD_PRELOAD=") + GST_FAKE_FILESYSTEM + " ";
  auto rerun = run_command(preload + gst_binary() + " --help 2>&1");
  EXPECT_EQ(rerun.exit_code, 0) << rerun.output;
  EXPECT_NE(rerun.output.find("std::filesystem resolves into " GST_FAKE_FILESYSTEM
                              "; re-running with LD_PRELOAD="),
            std::string::npos)
      << rerun.output;
  EXPECT_NE(rerun.output.find("Usage:"), std::string::npos) << rerun.output;

  // Where re-running did not help, a clear error instead of a crash later.
  auto stuck = run_command("env GST_LIBSTDCXX_PRELOADED=1 LD_PRELOAD=" GST_FAKE_FILESYSTEM " " +
                           gst_binary() + " --help 2>&1");
  EXPECT_EQ(stuck.exit_code, 1) << stuck.output;
  EXPECT_NE(stuck.output.find("gst: error: std::filesystem resolves into " GST_FAKE_FILESYSTEM
                              ", whose copy crashes"),
            std::string::npos)
      << stuck.output;
}

TEST(LibraryOrder, TestBinariesRerunThemselvesBeforeMain) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  auto r =
      run_command(std::string("env LD_PRELOAD=") + GST_FAKE_FILESYSTEM + " " + self +
                  " --gtest_filter=LibraryOrder.FilesystemResolvesIntoTheStandardLibrary 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("re-running with LD_PRELOAD="), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[  PASSED  ] 1 test"), std::string::npos) << r.output;
}

}  // namespace
