// The store manifest: format version, collection, options, shards, splits, feature statistics.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "data/graph.h"

namespace gst {

constexpr int kStoreFormatVersion = 1;

struct ShardInfo {
  std::string file;      // relative to the store directory
  std::string checksum;  // of the whole file
  int64_t bytes = 0;
  int64_t work = 0;      // sum of nodes x configs of its graphs
  std::vector<int64_t> graphs;  // indices into the manifest's graph list
};

struct Manifest {
  int format_version = kStoreFormatVersion;
  std::string collection;  // e.g. "layout:xla:random"
  Task task = Task::Layout;
  std::string partitioner;  // contiguous | metis
  int64_t segment_size = 0;
  std::vector<ShardInfo> shards;
  std::map<std::string, int64_t> split_counts;
  std::vector<float> feature_mean;  // [140], train split only
  std::vector<float> feature_std;   // [140], train split only (0 marks a constant column)

  // Reads dir/manifest.json; throws InputError naming the file and key when malformed, and when
  // format_version differs from kStoreFormatVersion.
  static Manifest read(const std::filesystem::path& dir);
};

}  // namespace gst
