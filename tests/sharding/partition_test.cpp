// Partitioners, segment building, shard balancing and feature statistics.
#include "sharding/partition.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "common/enum_names.h"
#include "common/errors.h"
#include "sharding/feature_stats.h"
#include "sharding/segmented_graph.h"
#include "sharding/shard_assign.h"
#include "store/store_fixtures.h"

namespace gst {
namespace {

using testing::random_graph;

// Every node in exactly one segment, segments non-empty and contiguous in the renumbering.
void expect_valid_partition(const Partition& p, int64_t n) {
  ASSERT_EQ(static_cast<int64_t>(p.original_id.size()), n);
  std::vector<int64_t> sorted = p.original_id;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(sorted[i], i) << "node in zero or two segments";
  ASSERT_GE(p.num_segments(), 1);
  EXPECT_EQ(p.offsets.front(), 0);
  EXPECT_EQ(p.offsets.back(), n);
  for (int64_t s = 0; s < p.num_segments(); ++s) EXPECT_LT(p.offsets[s], p.offsets[s + 1]);
}

TEST(Partition, ContiguousRangesOfAtMostK) {
  Partition p = partition_contiguous(2500, 1000);
  expect_valid_partition(p, 2500);
  EXPECT_EQ(p.offsets, (std::vector<int64_t>{0, 1000, 2000, 2500}));
  for (int64_t i = 0; i < 2500; ++i) EXPECT_EQ(p.original_id[i], i);
  EXPECT_EQ(partition_contiguous(7, 1000).num_segments(), 1);
}

TEST(Partition, MetisIsBalancedValidAndDeterministic) {
  Graph g = random_graph(Task::Layout, "g", 20000, 2, 7);
  const int64_t K = 1000;
  Partition p = partition_metis(g.num_nodes, g.edges, K);
  expect_valid_partition(p, g.num_nodes);
  EXPECT_LE(p.num_segments(), 20);
  EXPECT_GE(p.num_segments(), 19);
  for (int64_t s = 0; s < p.num_segments(); ++s)
    // METIS's default tolerance is 3% over N / parts.
    EXPECT_LE(p.offsets[s + 1] - p.offsets[s], static_cast<int64_t>(std::ceil(1.03 * K)) + 1);
  Partition again = partition_metis(g.num_nodes, g.edges, K);
  EXPECT_EQ(again.original_id, p.original_id);
  EXPECT_EQ(again.offsets, p.offsets);
  // Within a segment nodes keep their original relative order.
  for (int64_t s = 0; s < p.num_segments(); ++s)
    EXPECT_TRUE(std::is_sorted(p.original_id.begin() + p.offsets[s],
                               p.original_id.begin() + p.offsets[s + 1]));
}

TEST(Partition, MetisCutsFewerEdgesThanContiguous) {
  // Graph structure not aligned with ids: the same DAG under a random relabelling.
  Graph g = random_graph(Task::Layout, "g", 8000, 2, 3);
  std::vector<int64_t> relabel(g.num_nodes);
  std::iota(relabel.begin(), relabel.end(), 0);
  std::shuffle(relabel.begin(), relabel.end(), std::mt19937_64(5));
  std::vector<int64_t> shuffled = g.edges;
  for (auto& v : shuffled) v = relabel[v];
  const int64_t K = 500;
  for (const auto* edges : {&g.edges, &shuffled}) {
    double E = static_cast<double>(edges->size() / 2);
    double contiguous = count_cut_edges(partition_contiguous(g.num_nodes, K), *edges) / E;
    double metis = count_cut_edges(partition_metis(g.num_nodes, *edges, K), *edges) / E;
    std::printf("edge-cut fraction (K=%lld, %s ids): contiguous %.4f, metis %.4f\n",
                static_cast<long long>(K), edges == &g.edges ? "topological" : "shuffled",
                contiguous, metis);
    EXPECT_LT(metis, contiguous);
  }
}

TEST(Partition, DegenerateGraphs) {
  // No edges: nothing to cut, contiguous ranges.
  Partition p = partition_metis(3000, {}, 1000);
  expect_valid_partition(p, 3000);
  EXPECT_EQ(p.num_segments(), 3);
  // Smaller than one segment: one segment whatever the partitioner.
  Graph g = random_graph(Task::Tile, "t", 30, 4, 1);
  EXPECT_EQ(partition_graph(g, Partitioner::Metis, 1000).num_segments(), 1);
  EXPECT_THROW(parse_enum<Partitioner>("spectral", "--partitioner"), InputError);
  EXPECT_EQ(parse_enum<Partitioner>("metis", "--partitioner"), Partitioner::Metis);
  EXPECT_EQ(to_string(Partitioner::Contiguous), "contiguous");
}

TEST(SegmentedGraph, LocalAndCutEdgesAddUpAndConfigNodesSplit) {
  Graph g = random_graph(Task::Layout, "g", 5000, 6, 11);
  for (Partitioner kind : {Partitioner::Contiguous, Partitioner::Metis}) {
    Partition p = partition_graph(g, kind, 700);
    SegmentedGraph sg = segment_graph(g, "train", p);
    int64_t local = 0, cross = 0, m = 0, nodes = 0;
    std::vector<int64_t> renum = p.renumbering();
    for (int64_t s = 0; s < p.num_segments(); ++s) {
      const auto& seg = sg.segments[s];
      int64_t n = p.offsets[s + 1] - p.offsets[s];
      nodes += n;
      EXPECT_EQ(static_cast<int64_t>(seg.node_opcode.size()), n);
      local += seg.edges.size() / 2;
      cross += seg.cross_edges.size() / 2;
      for (int32_t v : seg.edges) EXPECT_TRUE(v >= 0 && v < n);
      for (size_t e = 0; e < seg.cross_edges.size(); e += 2) {
        bool a_in = seg.cross_edges[e] >= p.offsets[s] && seg.cross_edges[e] < p.offsets[s + 1];
        bool b_in =
            seg.cross_edges[e + 1] >= p.offsets[s] && seg.cross_edges[e + 1] < p.offsets[s + 1];
        EXPECT_NE(a_in, b_in);
      }
      m += seg.config_nodes.size();
      EXPECT_TRUE(std::is_sorted(seg.config_nodes.begin(), seg.config_nodes.end()));
      EXPECT_EQ(seg.config_feat.size(),
                g.runtime.size() * seg.config_nodes.size() * kLayoutConfigDim);
    }
    EXPECT_EQ(nodes, g.num_nodes);
    EXPECT_EQ(cross % 2, 0);  // each cut edge listed by both of its segments
    EXPECT_EQ(cross / 2, sg.cut_edges);
    EXPECT_EQ(local + cross / 2, g.num_edges());
    EXPECT_EQ(sg.cut_edges, count_cut_edges(p, g.edges));
    EXPECT_EQ(m, g.num_config_nodes());
  }
}

TEST(SegmentedGraph, RejectsInconsistentArrays) {
  Graph g = random_graph(Task::Layout, "g", 50, 3, 1);
  g.edges.push_back(0);
  g.edges.push_back(50);  // out of range
  EXPECT_THROW(check_graph_arrays(g, "g"), InputError);
  Graph h = random_graph(Task::Layout, "h", 50, 3, 1);
  h.config_feat.pop_back();
  EXPECT_THROW(check_graph_arrays(h, "h"), InputError);
}

TEST(ShardAssign, BalancesMixedSizedGraphsWithinTenPercent) {
  std::mt19937_64 rng(1);
  std::vector<int64_t> work;
  for (int i = 0; i < 60; ++i) {
    // Log-uniform nodes (300..20000) times configs (10..1000): sizes span four decades.
    double nodes = 300 * std::pow(20000.0 / 300, std::uniform_real_distribution<>(0, 1)(rng));
    double configs = 10 * std::pow(100.0, std::uniform_real_distribution<>(0, 1)(rng));
    work.push_back(static_cast<int64_t>(nodes * configs));
  }
  for (int shards : {2, 4, 8}) {
    std::vector<int> of = assign_shards(work, shards);
    std::vector<int64_t> totals = shard_work(work, of, shards);
    double mean = std::accumulate(totals.begin(), totals.end(), 0.0) / shards;
    double max = *std::max_element(totals.begin(), totals.end());
    double largest = static_cast<double>(*std::max_element(work.begin(), work.end()));
    std::printf("shards %d: max/mean work %.4f (largest graph / mean %.4f)\n", shards, max / mean,
                largest / mean);
    if (largest <= mean)
      EXPECT_LE(max / mean, 1.1);
    else  // one graph outweighs a shard's share: the best is that graph alone on its shard
      EXPECT_EQ(max, largest);
  }
}

TEST(FeatureStats, MatchesDirectComputationAndMarksConstantColumns) {
  std::mt19937_64 rng(2);
  std::vector<std::vector<float>> blocks(5);
  std::vector<float> all;
  for (auto& b : blocks) {
    int rows = 1 + static_cast<int>(rng() % 50);
    for (int i = 0; i < rows; ++i) {
      b.push_back(3.0f);                                     // constant
      b.push_back(1e7f + static_cast<float>(rng() % 1000));  // large integers
      b.push_back(std::uniform_real_distribution<float>(-1, 1)(rng));
    }
    all.insert(all.end(), b.begin(), b.end());
  }
  FeatureStats merged(3);
  for (const auto& b : blocks) {
    FeatureStats part(3);
    part.add(b);
    merged.merge(part);
  }
  int64_t n = static_cast<int64_t>(all.size() / 3);
  EXPECT_EQ(merged.count(), n);
  for (int c = 0; c < 3; ++c) {
    long double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; ++i) sum += all[i * 3 + c];
    long double mean = sum / n;
    for (int64_t i = 0; i < n; ++i) sq += (all[i * 3 + c] - mean) * (all[i * 3 + c] - mean);
    EXPECT_NEAR(merged.mean()[c], static_cast<double>(mean), 1e-6 * (1 + std::fabs((double)mean)));
    EXPECT_NEAR(merged.stddev()[c], std::sqrt(static_cast<double>(sq / n)), 1e-4);
  }
  EXPECT_EQ(merged.stddev()[0], 0.0f);
}

}  // namespace
}  // namespace gst
