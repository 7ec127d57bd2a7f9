// DistributedHistoryTable at world size 1 (a single process): key identity, staleness, the cap,
// stats and save/load. tests/comm/mpi/history_table_mpitest.cpp covers 1 to 4 ranks.
#include <gtest/gtest.h>

#include <fstream>

#include "comm/distributed_history_table.h"
#include "comm/mpi_communicator.h"
#include "common/errors.h"
#include "test_support.h"

namespace {

using gst::DistributedHistoryTable;
using gst::HistoryKey;
using gst::testing::world;

std::vector<float> pull_one(DistributedHistoryTable& t, HistoryKey k, int64_t step, bool* found) {
  std::vector<float> out(t.dim());
  std::vector<uint8_t> f;
  t.pull({k}, step, out.data(), f);
  *found = f[0];
  return out;
}

TEST(HistoryTableOneRank, RunsAtWorldSizeOne) { EXPECT_EQ(world().size(), 1); }

TEST(HistoryTableOneRank, KeysAreDistinctByGraphConfigAndSegment) {
  DistributedHistoryTable t(world(), 2);
  const std::vector<HistoryKey> keys = {{0, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 0, 0}, {0, -1, 0}};
  std::vector<float> values = {1, 1, 2, 2, 3, 3, 4, 4, 5, 5};
  t.push(keys, values.data(), 7);
  std::vector<float> out(10);
  std::vector<uint8_t> found;
  t.pull(keys, 7, out.data(), found);
  EXPECT_EQ(out, values);
  EXPECT_EQ(found, std::vector<uint8_t>(5, 1));
  bool hit = true;
  auto missing = pull_one(t, {2, 0, 0}, 7, &hit);
  EXPECT_FALSE(hit);
  EXPECT_EQ(missing, std::vector<float>({0, 0}));
}

TEST(HistoryTableOneRank, LaterPushReplacesAndStalenessIsTracked) {
  DistributedHistoryTable t(world(), 1);
  float a = 1, b = 2;
  t.push({{3, 4, 5}}, &a, 10);
  t.push({{3, 4, 5}}, &b, 12);
  bool hit = false;
  EXPECT_EQ(pull_one(t, {3, 4, 5}, 15, &hit)[0], 2.0f);
  EXPECT_TRUE(hit);
  pull_one(t, {3, 4, 6}, 15, &hit);
  auto s = t.stats();
  EXPECT_EQ(s.lookups, 2);
  EXPECT_EQ(s.hits, 1);
  EXPECT_DOUBLE_EQ(s.mean_staleness, 3.0);
  EXPECT_DOUBLE_EQ(s.hit_rate(), 0.5);
  EXPECT_EQ(s.entries, 1);
  EXPECT_EQ(s.bytes_exchanged, 0);  // one rank sends nothing to others
  t.reset_stats();
  EXPECT_EQ(t.stats().lookups, 0);
}

TEST(HistoryTableOneRank, MaxStalenessTreatsOldEntriesAsMissing) {
  DistributedHistoryTable t(world(), 1, {/*max_staleness=*/5, 0});
  float v = 1;
  t.push({{0, 0, 0}}, &v, 10);
  bool hit = false;
  pull_one(t, {0, 0, 0}, 15, &hit);
  EXPECT_TRUE(hit);
  pull_one(t, {0, 0, 0}, 16, &hit);
  EXPECT_FALSE(hit);
}

TEST(HistoryTableOneRank, CapEvictsLeastRecentlyWritten) {
  DistributedHistoryTable t(world(), 1, {-1, /*max_entries=*/2});
  float v = 1;
  t.push({{0, 0, 0}}, &v, 1);
  t.push({{0, 0, 1}}, &v, 2);
  t.push({{0, 0, 0}}, &v, 3);  // rewrite: now the newest
  t.push({{0, 0, 2}}, &v, 4);  // evicts segment 1
  bool hit = false;
  pull_one(t, {0, 0, 1}, 4, &hit);
  EXPECT_FALSE(hit);
  pull_one(t, {0, 0, 0}, 4, &hit);
  EXPECT_TRUE(hit);
  EXPECT_EQ(t.stats().evictions, 1);
  EXPECT_EQ(t.stats().entries, 2);
}

TEST(HistoryTableOneRank, SaveLoadRoundTripAcrossFiles) {
  gst::testing::ScratchDir dir("history");
  DistributedHistoryTable a(world(), 3), b(world(), 3);
  std::vector<float> va = {1, 2, 3, 4, 5, 6};
  a.push({{0, 1, 2}, {5, -1, 0}}, va.data(), 4);
  std::vector<float> vb = {7, 8, 9};
  b.push({{0, 1, 2}}, vb.data(), 9);  // newer value of a key also in a
  a.save(dir / "a.bin");
  b.save(dir / "b.bin");
  DistributedHistoryTable c(world(), 3);
  c.load({dir / "a.bin", dir / "b.bin"});
  std::vector<float> out(6);
  std::vector<uint8_t> found;
  c.pull({{0, 1, 2}, {5, -1, 0}}, 9, out.data(), found);
  EXPECT_EQ(out, std::vector<float>({7, 8, 9, 4, 5, 6}));
  EXPECT_DOUBLE_EQ(c.stats().mean_staleness, 2.5);  // (9-9 + 9-4) / 2

  DistributedHistoryTable wrong_dim(world(), 4);
  EXPECT_THROW(wrong_dim.load({dir / "a.bin"}), gst::InputError);
  std::ofstream(dir / "junk.bin") << "not a table";
  EXPECT_THROW(c.load({dir / "junk.bin"}), gst::InputError);
}

// The format carries a version after its magic; another version is refused by name.
TEST(HistoryTableOneRank, LoadRefusesAnotherFormatVersion) {
  gst::testing::ScratchDir dir("history-version");
  DistributedHistoryTable a(world(), 2);
  std::vector<float> v = {1, 2};
  a.push({{0, 0, 0}}, v.data(), 1);
  a.save(dir / "a.bin");
  {
    std::fstream f(dir / "a.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8);  // after the 8-byte magic: u32 version
    const uint32_t version = 2;
    f.write(reinterpret_cast<const char*>(&version), sizeof(version));
  }
  DistributedHistoryTable b(world(), 2);
  try {
    b.load({dir / "a.bin"});
    ADD_FAILURE() << "a version-2 file loaded";
  } catch (const gst::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("history table version 2"), std::string::npos) << e.what();
  }
}

}  // namespace
