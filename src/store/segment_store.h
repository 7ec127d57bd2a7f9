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

// One graph of the store as listed in the manifest. Nodes are renumbered at shard time so that
// every segment is a contiguous node range [segment_offsets[s], segment_offsets[s+1]).
struct GraphEntry {
  int64_t index = 0;  // position in SegmentStore::graphs()
  std::string id;
  std::string split;  // train | valid | test
  int shard = 0;
  int64_t num_nodes = 0, num_edges = 0, num_configs = 0, num_config_nodes = 0;
  std::vector<int64_t> segment_offsets;  // [S + 1]

  int64_t num_segments() const { return static_cast<int64_t>(segment_offsets.size()) - 1; }
  int64_t work() const { return num_nodes * num_configs; }
};

// Node data of one segment (or of a whole graph) with a chosen subset of configs.
struct Segment {
  int64_t first_node = 0;  // renumbered id of local node 0
  int64_t num_nodes = 0;
  std::vector<float> node_feat;       // [n, 140], raw (standardize with the manifest's mean/std)
  std::vector<uint8_t> node_opcode;   // [n]
  std::vector<int32_t> edges;         // [e, 2] local (source, target), both ends in the segment
  std::vector<int32_t> config_nodes;  // [m] local ids of configurable nodes (layout; empty for tile)
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
};

}  // namespace gst
