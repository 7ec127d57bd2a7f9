#include "gst/local_history_table.h"

#include <gtest/gtest.h>

#include <fstream>

#include "common/errors.h"
#include "test_support.h"

namespace {

using gst::HistoryKey;
using gst::LocalHistoryTable;

std::vector<float> pull_one(LocalHistoryTable& t, HistoryKey k, int64_t step, bool* found) {
  std::vector<float> out(t.dim());
  std::vector<uint8_t> f;
  t.pull({k}, step, out.data(), f);
  *found = f[0];
  return out;
}

TEST(LocalHistoryTable, KeysAreDistinctByGraphConfigAndSegment) {
  LocalHistoryTable t(2);
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

TEST(LocalHistoryTable, LaterPushReplacesAndStalenessIsTracked) {
  LocalHistoryTable t(1);
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
  t.reset_stats();
  EXPECT_EQ(t.stats().lookups, 0);
}

TEST(LocalHistoryTable, MaxStalenessTreatsOldEntriesAsMissing) {
  LocalHistoryTable t(1, {/*max_staleness=*/5, 0});
  float v = 1;
  t.push({{0, 0, 0}}, &v, 10);
  bool hit = false;
  pull_one(t, {0, 0, 0}, 15, &hit);
  EXPECT_TRUE(hit);
  pull_one(t, {0, 0, 0}, 16, &hit);
  EXPECT_FALSE(hit);
}

TEST(LocalHistoryTable, CapEvictsLeastRecentlyWritten) {
  LocalHistoryTable t(1, {0, /*max_entries=*/2});
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

TEST(LocalHistoryTable, SaveLoadRoundTripAcrossFiles) {
  gst::testing::ScratchDir dir("history");
  LocalHistoryTable a(3), b(3);
  std::vector<float> va = {1, 2, 3, 4, 5, 6};
  a.push({{0, 1, 2}, {5, -1, 0}}, va.data(), 4);
  std::vector<float> vb = {7, 8, 9};
  b.push({{0, 1, 2}}, vb.data(), 9);  // newer value of a key also in a
  a.save(dir / "a.bin");
  b.save(dir / "b.bin");
  LocalHistoryTable c(3);
  c.load({dir / "a.bin", dir / "b.bin"});
  std::vector<float> out(6);
  std::vector<uint8_t> found;
  c.pull({{0, 1, 2}, {5, -1, 0}}, 9, out.data(), found);
  EXPECT_EQ(out, std::vector<float>({7, 8, 9, 4, 5, 6}));
  EXPECT_DOUBLE_EQ(c.stats().mean_staleness, 2.5);  // (9-9 + 9-4) / 2

  LocalHistoryTable wrong_dim(4);
  EXPECT_THROW(wrong_dim.load({dir / "a.bin"}), gst::InputError);
  std::ofstream(dir / "junk.bin") << "not a table";
  EXPECT_THROW(c.load({dir / "junk.bin"}), gst::InputError);
}

}  // namespace
