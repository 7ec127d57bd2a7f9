#include "train/graph_sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

namespace {

std::vector<gst::OwnedGraph> graphs_over_shards(int shards, int per_shard) {
  std::vector<gst::OwnedGraph> out;
  int64_t id = 0;
  for (int s = 0; s < shards; ++s)
    for (int i = 0; i < per_shard; ++i, ++id) out.push_back({id, s, 100 + (id * 37) % 50});
  return out;
}

void expect_partition(const std::vector<std::vector<int64_t>>& split, int64_t n) {
  std::set<int64_t> seen;
  for (const auto& r : split) {
    EXPECT_FALSE(r.empty());
    for (int64_t g : r) EXPECT_TRUE(seen.insert(g).second) << "graph " << g << " twice";
  }
  EXPECT_EQ(static_cast<int64_t>(seen.size()), n);
}

TEST(AssignGraphs, WholeShardsWhenBalanced) {
  auto graphs = graphs_over_shards(4, 10);
  auto split = gst::assign_graphs_to_ranks(graphs, 2);
  expect_partition(split, 40);
  // Each rank holds whole shards.
  for (const auto& r : split) {
    std::map<int, int> count;
    for (int64_t g : r) ++count[graphs[g].shard];
    for (auto [shard, c] : count) EXPECT_EQ(c, 10) << "shard " << shard << " split";
  }
}

TEST(AssignGraphs, MoreRanksThanShardsResplitsGraphs) {
  auto graphs = graphs_over_shards(2, 9);
  auto split = gst::assign_graphs_to_ranks(graphs, 3);
  expect_partition(split, 18);
  int64_t lo = 1 << 30, hi = 0;
  for (const auto& r : split) {
    int64_t w = 0;
    for (int64_t g : r) w += graphs[g].work;
    lo = std::min(lo, w);
    hi = std::max(hi, w);
  }
  EXPECT_LE(hi, 1.2 * lo);
}

TEST(GraphSampler, DeterministicPerSeedRankAndCoversEpochs) {
  std::vector<int64_t> owned = {3, 5, 8, 13, 21, 34, 55};
  gst::GraphSampler a(owned, 3, 11, 0), b(owned, 3, 11, 0), other_rank(owned, 3, 11, 1);
  for (int64_t step = 0; step < 10; ++step) EXPECT_EQ(a.batch(step), b.batch(step));
  bool differs = false;
  for (int64_t step = 0; step < 10; ++step) differs |= a.batch(step) != other_rank.batch(step);
  EXPECT_TRUE(differs);
  // 7 graphs, batch 3: the first 21 samples are three full epochs, each a permutation.
  std::vector<int64_t> stream;
  for (int64_t step = 0; step < 7; ++step) {
    auto batch = a.batch(step);
    stream.insert(stream.end(), batch.begin(), batch.end());
  }
  for (int e = 0; e < 3; ++e) {
    std::vector<int64_t> epoch(stream.begin() + 7 * e, stream.begin() + 7 * (e + 1));
    std::sort(epoch.begin(), epoch.end());
    EXPECT_EQ(epoch, owned) << "epoch " << e;
  }
  EXPECT_EQ(a.epoch_of(0), 0);
  EXPECT_EQ(a.epoch_of(3), 1);
}

}  // namespace
