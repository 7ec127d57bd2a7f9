#include "sharding/segmented_graph.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "common/errors.h"
#include "data/graph_io.h"

namespace gst {

void check_graph_arrays(const Graph& g, const std::string& where, bool allow_streamed) {
  validate_graph(g, where, allow_streamed);
  // The id names an HDF5 group: one path component.
  if (g.id.empty() || g.id.find('/') != std::string::npos || g.id == "." || g.id == "..")
    input_error("{}: the id must be a non-empty file name", where);
}

namespace {

// Graph-level arrays and counts, copied as they are.
SegmentedGraph graph_level(const Graph& g, const std::string& split, const Partition& p) {
  SegmentedGraph out;
  out.id = g.id;
  out.split = split;
  out.task = g.task;
  out.num_nodes = g.num_nodes;
  out.num_edges = g.num_edges();
  out.num_configs = g.num_configs();
  out.num_config_nodes = g.num_config_nodes();
  out.offsets = p.offsets;
  out.original_node_id = p.original_id;
  out.node_splits = g.node_splits;
  out.has_runtime = g.has_runtime;
  out.runtime = g.runtime;
  if (g.task == Task::Tile) {
    out.runtime_normalizer = g.runtime_normalizer;
    out.tile_config_feat = g.config_feat;
  }
  return out;
}

// Each segment's node features and opcodes, in renumbered order.
void split_nodes(const Graph& g, const Partition& p, SegmentedGraph& out) {
  for (int64_t s = 0; s < p.num_segments(); ++s) {
    SegmentArrays& seg = out.segments[s];
    int64_t first = p.offsets[s], n = p.offsets[s + 1] - first;
    seg.node_feat.resize(n * kNodeFeatureDim);
    seg.node_opcode.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      int64_t orig = p.original_id[first + i];
      std::memcpy(&seg.node_feat[i * kNodeFeatureDim], &g.node_feat[orig * kNodeFeatureDim],
                  kNodeFeatureDim * sizeof(float));
      seg.node_opcode[i] = g.node_opcode[orig];
    }
  }
}

// Edges inside a segment become local edges; a cut edge is listed by both of its segments.
void split_edges(const Graph& g, const Partition& p, const std::vector<int64_t>& renumbered,
                 SegmentedGraph& out) {
  std::vector<int32_t> segment_of(g.num_nodes);
  for (int64_t s = 0; s < p.num_segments(); ++s)
    std::fill(segment_of.begin() + p.offsets[s], segment_of.begin() + p.offsets[s + 1], s);
  for (int64_t e = 0; e < out.num_edges; ++e) {
    int64_t a = renumbered[g.edges[2 * e]], b = renumbered[g.edges[2 * e + 1]];
    int32_t sa = segment_of[a], sb = segment_of[b];
    if (sa == sb) {
      auto& edges = out.segments[sa].edges;
      edges.push_back(static_cast<int32_t>(a - p.offsets[sa]));
      edges.push_back(static_cast<int32_t>(b - p.offsets[sa]));
    } else {
      ++out.cut_edges;
      for (int32_t s : {sa, sb}) {
        out.segments[s].cross_edges.push_back(a);
        out.segments[s].cross_edges.push_back(b);
      }
    }
  }
}

// Configurable nodes in renumbered order, so each segment owns a contiguous run of them, with
// their config features.
void split_configs(const Graph& g, const Partition& p, const std::vector<int64_t>& renumbered,
                   SegmentedGraph& out) {
  const int64_t M = out.num_config_nodes, C = out.num_configs;
  out.config_node_order.resize(M);
  std::iota(out.config_node_order.begin(), out.config_node_order.end(), 0);
  std::stable_sort(out.config_node_order.begin(), out.config_node_order.end(),
                   [&](int64_t x, int64_t y) {
                     return renumbered[g.config_node_ids[x]] < renumbered[g.config_node_ids[y]];
                   });
  int64_t j = 0;
  for (int64_t s = 0; s < p.num_segments(); ++s) {
    SegmentArrays& seg = out.segments[s];
    int64_t begin = j;
    while (j < M && renumbered[g.config_node_ids[out.config_node_order[j]]] < p.offsets[s + 1]) {
      seg.config_nodes.push_back(static_cast<int32_t>(
          renumbered[g.config_node_ids[out.config_node_order[j]]] - p.offsets[s]));
      ++j;
    }
    int64_t m = j - begin;
    if (config_feat_streamed(g)) continue;  // written block by block later
    seg.config_feat.resize(C * m * kLayoutConfigDim);
    for (int64_t c = 0; c < C; ++c)
      for (int64_t k = 0; k < m; ++k)
        std::memcpy(&seg.config_feat[(c * m + k) * kLayoutConfigDim],
                    &g.config_feat[(c * M + out.config_node_order[begin + k]) * kLayoutConfigDim],
                    kLayoutConfigDim * sizeof(float));
  }
}

}  // namespace

SegmentedGraph segment_graph(const Graph& g, const std::string& split, const Partition& p) {
  check_graph_arrays(g, fmt::format("graph '{}'", g.id), /*allow_streamed=*/true);
  GST_CHECK(static_cast<int64_t>(p.original_id.size()) == g.num_nodes,
            "partition of graph '{}' has {} nodes, the graph {}", g.id, p.original_id.size(),
            g.num_nodes);
  SegmentedGraph out = graph_level(g, split, p);
  out.segments.resize(p.num_segments());
  const std::vector<int64_t> renumbered = p.renumbering();
  split_nodes(g, p, out);
  split_edges(g, p, renumbered, out);
  if (g.task == Task::Layout) split_configs(g, p, renumbered, out);
  return out;
}

}  // namespace gst
