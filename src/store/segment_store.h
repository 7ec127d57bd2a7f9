// Reading a sharded HDF5 segment store: graphs by split, one segment or a whole graph at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "data/graph.h"
#include "store/manifest.h"

namespace gst {

// Node data of one segment (or of a whole graph) with a chosen subset of configs.
struct Segment {
  int64_t first_node = 0;  // renumbered id of local node 0
  int64_t num_nodes = 0;
  std::vector<float> node_feat;      // [n, 140], raw (standardize with the manifest's mean/std)
  std::vector<uint8_t> node_opcode;  // [n]
  std::vector<int32_t> edges;        // [e, 2] local (source, target), both ends in the segment
  // [x, 2] (source, target) as renumbered graph node ids: load_segment gives every edge with
  // exactly one end in the segment (each cut edge is listed by both its segments); load_graph
  // leaves it empty (all edges are in `edges`).
  std::vector<int64_t> cross_edges;
  std::vector<int32_t> config_nodes;  // [m] local ids of configurable nodes (layout; tile: empty)
  std::vector<float> config_feat;     // layout: [k, m, 18] for the k requested configs; tile: empty
};

// Per-graph config data, independent of segments.
struct GraphConfigs {
  std::vector<double> runtime;     // [C] (may be all zero for unlabeled test graphs)
  std::vector<double> normalizer;  // tile: [C]; layout: empty
  std::vector<float> tile_feat;    // tile: [C, 24]; layout: empty
};

class SegmentStore {
 public:
  // Opens the store whose manifest is in `dir`; shard files are opened lazily on first use, so a
  // rank touches only the shards it reads. Throws InputError for a missing/incomplete store or a
  // different format version.
  static std::shared_ptr<SegmentStore> open(const std::filesystem::path& dir);

  virtual ~SegmentStore() = default;
  virtual const Manifest& manifest() const = 0;
  virtual const std::vector<GraphEntry>& graphs() const = 0;
  // Indices into graphs() of the graphs of one split, in manifest order.
  virtual std::vector<int64_t> split(const std::string& name) const = 0;

  // One segment with the given configs (indices into 0..C-1, any order, repeats allowed).
  virtual Segment load_segment(int64_t graph, int64_t segment,
                               const std::vector<int64_t>& configs) const = 0;
  // The whole graph as one segment (all edges, cross-segment ones included).
  virtual Segment load_graph(int64_t graph, const std::vector<int64_t>& configs) const = 0;
  virtual GraphConfigs load_configs(int64_t graph) const = 0;
  // The graph exactly as it was read at shard time: original node numbering, edge multiset
  // (in segment order), configurable nodes in their original order, all configs.
  virtual Graph load_original(int64_t graph) const = 0;
  // Renumbered node id -> original node id: [N].
  virtual std::vector<int64_t> load_original_node_ids(int64_t graph) const = 0;
};

}  // namespace gst
