// Tensor inputs of a batch of segments (possibly from several graphs) as one disjoint union.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "data/graph.h"
#include "store/segment_store.h"

namespace gst {

// Nodes of segment s are the contiguous range [segment_offsets[s], segment_offsets[s+1]) of the
// batch, in the order the segments were given.
struct SegmentBatch {
  torch::Tensor node_feat;  // [N, 140] float, raw (the model standardizes with manifest stats)
  torch::Tensor opcode;     // [N] int64
  torch::Tensor edges;      // [2, E] int64, batch-global node ids (source row 0, target row 1)
  // [E] int64: each edge's rank among its target's in-edges in the segment's edge order, which is
  // the source file's (TpuGraphs lists a node's operands in order)
  torch::Tensor operand_index;
  torch::Tensor node_segment;  // [N] int64, which segment of the batch each node belongs to
  int64_t num_segments = 0;    // B_seg
  std::vector<int64_t> segment_offsets;  // [B_seg + 1], host side
  int64_t num_configs = 1;  // K (layout and tile with configs at the nodes; otherwise 1)
  // Layout, and tile with configs at the nodes (undefined otherwise):
  torch::Tensor config_nodes;  // [M] int64 batch-global ids of configurable nodes (tile: all)
  torch::Tensor config_feat;   // [K, M, 18 or 24] float: config k of segment s is the k-th
                               // requested config of s (the same K for every segment)
  // Layout only: the edges u -> v with both ends configurable, as positions in config_nodes.
  torch::Tensor config_edges;  // [2, P] int64
};

// Concatenates segments into one batch on `device`. Layout: every segment must carry
// `num_configs` configs (config_feat [num_configs, m, 18]). Tile: without `tile_feat` K = 1 and
// num_configs is ignored; with it (one pointer per segment to its kernel's num_configs tile
// configs, [K, 24]) every node is configurable and carries its kernel's config features.
SegmentBatch make_segment_batch(const std::vector<const Segment*>& segments, Task task,
                                int64_t num_configs, torch::Device device,
                                const std::vector<const float*>& tile_feat = {});

// The tile features [K, 24] of `configs` of a kernel, in order.
std::vector<float> tile_config_rows(const GraphConfigs& graph, const std::vector<int64_t>& configs);

}  // namespace gst
