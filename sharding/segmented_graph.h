// A graph cut into segments: every array the store keeps, per graph and per segment.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/graph.h"
#include "sharding/partition.h"

namespace gst {

// What one segment needs to be run alone. Local ids are relative to the segment's first node.
struct SegmentArrays {
  std::vector<float> node_feat;       // [n, 140]
  std::vector<uint8_t> node_opcode;   // [n]
  std::vector<int32_t> edges;         // [e, 2] local (source, target)
  std::vector<int64_t> cross_edges;   // [x, 2] renumbered graph ids, exactly one end in the segment
  std::vector<int32_t> config_nodes;  // [m] local, ascending (layout)
  std::vector<float> config_feat;     // [C, m, 18] (layout)
};

struct SegmentedGraph {
  std::string id, split;
  Task task = Task::Layout;
  int64_t num_nodes = 0, num_edges = 0, num_configs = 0, num_config_nodes = 0, cut_edges = 0;
  std::vector<int64_t> offsets;            // [S + 1]
  std::vector<int64_t> original_node_id;   // [N] renumbered -> original
  std::vector<int64_t> config_node_order;  // [M] store order -> index into node_config_ids
  std::vector<int64_t> node_splits;        // original ids, as read
  std::vector<double> runtime;             // [C]
  bool has_runtime = true;                 // false: unlabeled (test file without runtimes)
  std::vector<double> runtime_normalizer;  // tile: [C]
  std::vector<float> tile_config_feat;     // tile: [C, 24]
  std::vector<SegmentArrays> segments;
};

// validate_graph plus what the store needs of an id; throws InputError prefixed with `where`.
// allow_streamed: a layout graph may come without its config_feat values (config_feat_streamed).
void check_graph_arrays(const Graph& graph, const std::string& where, bool allow_streamed = false);

// For a graph without its config_feat values (config_feat_streamed) the segments get their
// config_nodes but no config_feat; StreamedConfigWriter writes those.
SegmentedGraph segment_graph(const Graph& graph, const std::string& split,
                             const Partition& partition);

}  // namespace gst
