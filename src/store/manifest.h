// The store manifest: format version, collection, options, graphs, shards, splits, statistics.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "data/graph.h"

namespace gst {

constexpr int kStoreFormatVersion = 2;  // 2: column min/max/integer and config statistics

// Per-column statistics over the train split (population std): what the model needs to scale each
// input column and to tell integer-coded columns (dimension indices, categories) from measured
// ones. All vectors are empty when the store has no train graphs.
struct ColumnStats {
  std::vector<float> mean, std;  // std 0 marks a constant column
  std::vector<float> min, max;
  std::vector<uint8_t> integer;  // 1: every train value is a whole number

  size_t columns() const { return mean.size(); }
};

// One graph of the store as listed in the manifest. Nodes are renumbered at shard time so that
// every segment is a contiguous node range [segment_offsets[s], segment_offsets[s+1]).
struct GraphEntry {
  int64_t index = 0;  // position in Manifest::graphs / SegmentStore::graphs()
  std::string id;
  std::string split;  // train | valid | test
  int shard = 0;
  int64_t num_nodes = 0, num_edges = 0, num_configs = 0, num_config_nodes = 0;
  // Configs of the source file: more than num_configs when `gst shard --max-configs` kept a subset.
  int64_t source_configs = 0;
  int64_t cut_edges = 0;                 // edges whose ends lie in different segments
  bool has_runtime = true;               // false: unlabeled test graph (runtimes all zero)
  std::vector<int64_t> segment_offsets;  // [S + 1]

  int64_t num_segments() const { return static_cast<int64_t>(segment_offsets.size()) - 1; }
  int64_t work() const { return num_nodes * num_configs; }
};

struct ShardInfo {
  std::string file;      // relative to the store directory
  std::string checksum;  // "xxh64:<hex>" of the whole file
  int64_t bytes = 0;
  int64_t work = 0;             // sum of nodes x configs of its graphs
  std::vector<int64_t> graphs;  // indices into the manifest's graph list
};

// How the store was made (recorded for reproducibility; the reader does not depend on it).
struct ShardOptionsRecord {
  std::string input;
  std::vector<std::string> splits;
  int compression_level = 0;
  int workers = 1;
  int64_t skipped_bad = 0;  // input files skipped by --skip-bad
  int64_t max_configs = 0;  // --max-configs: configs kept per graph at most (0: all)
  uint64_t max_configs_seed = 0;
};

struct Manifest {
  int format_version = kStoreFormatVersion;
  std::string collection;  // e.g. "layout:xla:random"
  Task task = Task::Layout;
  std::string partitioner;  // contiguous | metis
  int64_t segment_size = 0;
  ShardOptionsRecord options;
  std::vector<GraphEntry> graphs;  // grouped by split (in options.splits order), ids sorted
  std::vector<ShardInfo> shards;
  std::map<std::string, int64_t> split_counts;
  int64_t total_edges = 0, cut_edges = 0;  // edge-cut fraction = cut_edges / total_edges
  ColumnStats node_columns;                // [140] node_feat columns over every train node
  ColumnStats config_columns;              // layout [18] over every train (config, node); tile [24]

  double edge_cut_fraction() const {
    return total_edges > 0 ? static_cast<double>(cut_edges) / total_edges : 0.0;
  }

  // Reads dir/manifest.json; throws InputError naming the file and key when malformed, and when
  // format_version differs from kStoreFormatVersion.
  static Manifest read(const std::filesystem::path& dir);
  // Writes `path` (normally a temporary name renamed into place by the caller); throws gst::Error
  // naming the file when it cannot be written completely.
  void write(const std::filesystem::path& path) const;
};

}  // namespace gst
