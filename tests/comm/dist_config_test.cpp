// The `dist:` config section: defaults, overrides, validation and the options it produces.
#include "comm/dist_config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "expect_input_error.h"
#include "test_support.h"

namespace gst {
namespace {

struct RunConfig {
  DistConfig dist;
  void visit(ConfigSection& s) { s.section("dist", dist); }
};

TEST(DistConfig, DefaultsAndOverrides) {
  testing::ScratchDir dir("dist-config");
  std::ofstream(dir / "empty.yaml") << "dist: {}\n";
  auto defaults = load_config<RunConfig>(dir / "empty.yaml", {});
  EXPECT_EQ(defaults.dist.backend, Backend::Auto);
  EXPECT_EQ(defaults.dist.gradient_sync().bucket_bytes, size_t{25} << 20);
  EXPECT_TRUE(defaults.dist.gradient_sync().overlap);
  EXPECT_EQ(defaults.dist.history().max_staleness, -1);

  std::ofstream(dir / "run.yaml") << "dist:\n  backend: mpi\n  bucket_mb: 0.5\n  overlap: false\n";
  auto config = load_config<RunConfig>(dir / "run.yaml",
                                       {"dist.table_max_entries=1000", "dist.check_every=10"});
  EXPECT_EQ(config.dist.backend, Backend::Mpi);
  EXPECT_EQ(config.dist.gradient_sync().bucket_bytes, size_t{1} << 19);
  EXPECT_FALSE(config.dist.gradient_sync().overlap);
  EXPECT_EQ(config.dist.history().max_entries, 1000);
  EXPECT_EQ(config.dist.check_every, 10);
}

// Each error names the key and what was expected; the same keys with valid values load.
TEST(DistConfig, RejectsUnknownBackendAndNegativeCap) {
  using testing::expect_input_error;
  expect_input_error([] { load_config<RunConfig>("", {"dist.backend=gloo"}); },
                     {"'dist.backend'", "one of auto, mpi, nccl", "got 'gloo'"});
  expect_input_error([] { load_config<RunConfig>("", {"dist.table_max_entries=-1"}); },
                     {"'dist.table_max_entries'", "an integer in [0,", "got -1"});
  expect_input_error([] { load_config<RunConfig>("", {"dist.bucket=3"}); },
                     {"unknown key 'bucket'", "bucket_mb"});
  const auto valid = load_config<RunConfig>("", {"dist.backend=nccl", "dist.table_max_entries=0"});
  EXPECT_EQ(valid.dist.backend, Backend::Nccl);
  EXPECT_EQ(valid.dist.table_max_entries, 0);
}

}  // namespace
}  // namespace gst
