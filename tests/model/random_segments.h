// Random HLO-like segments (DAGs with chains, fan-in and fan-out) for model tests and benchmarks.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "data/graph.h"
#include "store/manifest.h"
#include "store/segment_store.h"

namespace gst::testing {

struct RandomSegmentOptions {
  int64_t nodes = 50;
  double config_share = 0.1;  // share of configurable nodes (layout)
  int64_t configs = 4;        // layout configs per segment; 0 for tile
  double extra_edge = 0.5;    // chance of a second input edge per node (fan-in)
};

// Columns 10..13 hold whole numbers in -1..5, like a node's own layout.
inline bool is_coded_column(int j) { return j >= 10 && j <= 13; }

// Node i > 0 reads node i - 1 most of the time (chains) or a random earlier node, plus an
// optional second input; features are random with column 7 constant and coded columns 10..13.
inline Segment random_segment(std::mt19937_64& rng, const RandomSegmentOptions& o) {
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  Segment s;
  s.num_nodes = o.nodes;
  s.node_feat.resize(o.nodes * kNodeFeatureDim);
  for (int64_t i = 0; i < o.nodes; ++i) {
    for (int j = 0; j < kNodeFeatureDim; ++j) {
      s.node_feat[i * kNodeFeatureDim + j] = j == 7               ? 3.0f
                                             : is_coded_column(j) ? std::round(3 * unit(rng) + 2)
                                                                  : unit(rng) * (1 + j % 5);
    }
    s.node_opcode.push_back(static_cast<uint8_t>(rng() % kNumOpcodes));
  }
  for (int64_t v = 1; v < o.nodes; ++v) {
    const int64_t near = v - 1, far = static_cast<int64_t>(rng() % v);
    s.edges.push_back(static_cast<int32_t>(coin(rng) < 0.7 ? near : far));
    s.edges.push_back(static_cast<int32_t>(v));
    if (coin(rng) < o.extra_edge && far != near) {
      s.edges.push_back(static_cast<int32_t>(far));
      s.edges.push_back(static_cast<int32_t>(v));
    }
  }
  if (o.configs == 0) return s;
  for (int64_t v = 0; v < o.nodes; ++v) {
    if (coin(rng) < o.config_share) s.config_nodes.push_back(static_cast<int32_t>(v));
  }
  std::shuffle(s.config_nodes.begin(), s.config_nodes.end(), rng);  // any order is allowed
  std::uniform_int_distribution<int> layout_value(-1, 5);
  s.config_feat.resize(o.configs * s.config_nodes.size() * kLayoutConfigDim);
  for (float& f : s.config_feat) f = static_cast<float>(layout_value(rng));
  return s;
}

// Train-split-like node column statistics of random_segment: mean 0, std 1 except the constant
// column 7 (std 0); the coded columns hold whole numbers in -1..5.
inline ColumnStats unit_node_stats() {
  ColumnStats c;
  c.mean.assign(kNodeFeatureDim, 0.0f);
  c.std.assign(kNodeFeatureDim, 1.0f);
  c.min.assign(kNodeFeatureDim, -5.0f);
  c.max.assign(kNodeFeatureDim, 5.0f);
  c.integer.assign(kNodeFeatureDim, 0);
  c.mean[7] = c.min[7] = c.max[7] = 3.0f;
  c.std[7] = 0.0f;
  c.integer[7] = 1;
  for (int j = 0; j < kNodeFeatureDim; ++j)
    if (is_coded_column(j)) {
      c.min[j] = -1;
      c.integer[j] = 1;
    }
  return c;
}

// Config column statistics: layout values are whole numbers in -1..5; tile columns 3..5 hold
// whole numbers 0..10 (log2 tile sizes), the rest are measured values.
inline ColumnStats unit_config_stats(Task task) {
  const int n = task == Task::Layout ? kLayoutConfigDim : kTileConfigDim;
  ColumnStats c;
  c.mean.assign(n, 0.0f);
  c.std.assign(n, 1.0f);
  c.min.assign(n, -1.0f);
  c.max.assign(n, 5.0f);
  c.integer.assign(n, task == Task::Layout);
  for (int j = 3; j < 6 && task == Task::Tile; ++j) {
    c.min[j] = 0;
    c.max[j] = 10;
    c.integer[j] = 1;
  }
  return c;
}

}  // namespace gst::testing
