// Writing shard files: graphs encoded (partitioned, compressed) off the HDF5 lock, then written.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "sharding/segmented_graph.h"
#include "store/chunk_codec.h"
#include "store/hdf5.h"

namespace gst {

// Bytes of one config_feat chunk ([rows, m, 18] f32) the encoder aims at: small enough that a
// sample of configs decompresses little beyond what it asks for, large enough to compress. Stored
// as int8 codes, a chunk keeps the same rows (a quarter of the bytes).
constexpr int64_t kConfigChunkBytes = 16 * 1024;

// One HDF5 group with its attributes and datasets.
struct EncodedGroup {
  std::string path;
  std::vector<std::pair<std::string, int64_t>> int_attrs;
  std::vector<std::pair<std::string, std::string>> string_attrs;
  std::vector<EncodedDataset> datasets;
};

// A whole graph ready for its shard: the graph group, then one group per segment.
struct EncodedGraph {
  std::vector<EncodedGroup> groups;
  int64_t raw_bytes = 0, stored_bytes = 0;
};

// Rows of one config_feat chunk of a segment with m configurable nodes.
int64_t config_chunk_rows(int64_t config_nodes);

// index: the graph's position in the manifest; level: deflate level (0 = uncompressed).
// Layout config_feat is stored as int8 when every value allows it (narrow_to_int8), else f32.
// config_feat_streamed: the segments' config_feat datasets are left out, for StreamedConfigWriter
// (sharding/streamed_config.h) to create and fill.
EncodedGraph encode_graph(const SegmentedGraph& graph, int64_t index, int level,
                          bool config_feat_streamed = false);

// One shard file being written. Not thread-safe; HDF5 calls take the global HDF5 lock.
class ShardFileWriter {
 public:
  ShardFileWriter(const std::filesystem::path& path, Task task, int shard);
  void add(const EncodedGraph& graph);
  hid_t file() const { return file_; }
  const std::filesystem::path& path() const { return path_; }
  // Writes the root attributes and closes the file, reporting a failed flush (e.g. a full disk).
  void close();

 private:
  std::filesystem::path path_;
  h5::Handle file_;
  int64_t num_graphs_ = 0;
};

}  // namespace gst
