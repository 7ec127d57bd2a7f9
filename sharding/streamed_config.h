// config_feat of a graph too big to hold: written a block of configs at a time, chunk by chunk.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "sharding/segmented_graph.h"
#include "store/file_driver.h"
#include "store/hdf5.h"

namespace gst {

// What the writer needs of a segmented graph whose config_feat stayed in its source.
struct StreamedLayout {
  std::string id, split;
  int64_t num_configs = 0, num_config_nodes = 0;
  std::vector<int64_t> config_node_order;     // [M] store order -> column of node_config_feat
  std::vector<int64_t> segment_config_nodes;  // [S] configurable nodes of each segment
  static StreamedLayout of(const SegmentedGraph& graph);
};

// A streamed config value that int8 codes cannot hold (see narrow_to_int8).
struct NotInt8Codes : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Creates and fills the per-segment config_feat datasets that encode_graph left out: each block
// of configs is gathered into every segment's configurable nodes, encoded into the same chunks
// the in-memory path writes (int8 codes or f32; shuffle + deflate) on `workers` threads, and
// written. Holds one block's encoded chunks and less than one chunk per segment between blocks.
class StreamedConfigWriter {
 public:
  // int8: store int8 codes; add() then throws NotInt8Codes at the first value they cannot hold.
  StreamedConfigWriter(hid_t file, const StreamedLayout& layout, int level, int workers, bool int8);
  // The next `configs` configs in source order: block [configs, M, 18].
  void add(const float* block, int64_t configs);
  // Writes every segment's last, zero-padded chunk; checks that all C configs arrived.
  void finish();
  // Unlinks the datasets this writer created (their space stays unused in the file).
  void discard();

 private:
  struct Segment {
    h5::Handle dataset;
    int64_t m = 0, first = 0;  // its configurable nodes: config_node_order[first, first + m)
    int64_t chunk_rows = 0, next_chunk = 0, pending_rows = 0;
    std::string path;
    std::vector<uint8_t> pending;  // [chunk_rows, m, 18] elements, pending_rows filled
    // Where its chunks land, written a block at a time; unknown places drop the table.
    h5::Handle places;
    bool places_known = true;
  };
  struct Chunk {
    size_t segment;
    int64_t index;
    std::vector<uint8_t> bytes;
  };
  void gather(Segment& seg, size_t index, const float* block, int64_t configs,
              std::vector<Chunk>* out) const;
  void encode_pending(Segment& seg, size_t index, std::vector<Chunk>* out) const;
  void write(std::vector<std::vector<Chunk>>& chunks);

  hid_t file_;
  const StreamedLayout& layout_;
  int level_, workers_;
  size_t element_size_;  // 1: int8 codes, 4: f32
  int64_t received_ = 0;
  std::vector<Segment> segments_;  // segments with configurable nodes
};

}  // namespace gst
