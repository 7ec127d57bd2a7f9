// Random graphs with HLO-like structure for store and sharding tests, and graph comparison.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "data/graph.h"

namespace gst::testing {

// A DAG in topological id order: a main chain with fan-in from recent nodes and a few long
// jumps, like an HLO program. Layout graphs get configurable nodes (share ~15%) and per-config
// layout features; tile graphs get [C, 24] kernel configs and normalizers.
inline Graph random_graph(Task task, const std::string& id, int64_t nodes, int64_t configs,
                          uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  Graph g;
  g.id = id;
  g.task = task;
  g.num_nodes = nodes;
  g.node_feat.resize(nodes * kNodeFeatureDim);
  for (int64_t v = 0; v < nodes; ++v)
    for (int c = 0; c < kNodeFeatureDim; ++c)
      // Some constant columns, some large integers stored as floats, some small reals.
      g.node_feat[v * kNodeFeatureDim + c] = c % 7 == 0   ? 1.0f
                                             : c % 5 == 0 ? static_cast<float>(rng() % 100000)
                                                          : unit(rng);
  g.node_opcode.resize(nodes);
  for (auto& op : g.node_opcode) op = static_cast<uint8_t>(rng() % kNumOpcodes);
  for (int64_t v = 1; v < nodes; ++v) {
    if (unit(rng) < 0.8f) g.edges.insert(g.edges.end(), {v - 1, v});
    if (unit(rng) < 0.5f)
      g.edges.insert(g.edges.end(), {v - 1 - int64_t(rng() % std::min<int64_t>(v, 40)), v});
    if (unit(rng) < 0.05f) g.edges.insert(g.edges.end(), {int64_t(rng() % v), v});
  }
  if (nodes > 2) g.edges.insert(g.edges.end(), {0, 1});  // a repeated edge, as real data has
  for (int64_t c = 0; c < configs; ++c)
    g.runtime.push_back(1000.0 + static_cast<double>(rng() % 100000));
  if (task == Task::Layout) {
    for (int64_t v = 0; v < nodes; ++v)
      if (unit(rng) < 0.15f) g.config_node_ids.push_back(v);
    if (g.config_node_ids.empty()) g.config_node_ids.push_back(0);
    std::shuffle(g.config_node_ids.begin(), g.config_node_ids.end(), rng);
    g.config_feat.resize(configs * g.config_node_ids.size() * kLayoutConfigDim);
    for (auto& f : g.config_feat) f = static_cast<float>(static_cast<int>(rng() % 7) - 1);
  } else {
    g.config_feat.resize(configs * kTileConfigDim);
    for (auto& f : g.config_feat) f = static_cast<float>(1 << (rng() % 8));
    for (int64_t c = 0; c < configs; ++c) g.runtime_normalizer.push_back(2000.0);
  }
  return g;
}

// Edges as a sorted multiset of (source, target).
inline std::vector<std::pair<int64_t, int64_t>> edge_multiset(const std::vector<int64_t>& edges) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (size_t e = 0; e + 1 < edges.size(); e += 2) out.emplace_back(edges[e], edges[e + 1]);
  std::sort(out.begin(), out.end());
  return out;
}

inline void expect_same_graph(const Graph& a, const Graph& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.task, b.task);
  EXPECT_EQ(a.num_nodes, b.num_nodes);
  EXPECT_EQ(a.node_feat, b.node_feat);
  EXPECT_EQ(a.node_opcode, b.node_opcode);
  EXPECT_EQ(edge_multiset(a.edges), edge_multiset(b.edges));
  EXPECT_EQ(a.config_node_ids, b.config_node_ids);
  EXPECT_EQ(a.config_feat, b.config_feat);
  EXPECT_EQ(a.runtime, b.runtime);
  EXPECT_EQ(a.runtime_normalizer, b.runtime_normalizer);
  EXPECT_EQ(a.node_splits, b.node_splits);
  EXPECT_EQ(a.has_runtime, b.has_runtime);
}

}  // namespace gst::testing
