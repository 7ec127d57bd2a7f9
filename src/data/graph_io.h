// Reading, validating and writing one TpuGraphs .npz graph (layout or tile) as a gst::Graph.
#pragma once

#include <filesystem>
#include <string>

#include "data/graph.h"
#include "data/npz.h"

namespace gst {

struct GraphReadOptions {
  // Test files may lack runtimes: when true, a missing config_runtime (and, for tile,
  // config_runtime_normalizers) gives zero runtimes and has_runtime = false instead of an error.
  bool runtime_optional = false;
  // Layout graphs whose node_config_feat holds more than this many bytes as float32 are read
  // without its values (>= 0 to enable): Graph::config_feat stays empty, the array's header is
  // still checked against C and M, and ConfigFeatStream reads the values a block at a time.
  int64_t stream_config_feat_above = -1;
};

// True for a layout graph read without its node_config_feat values (see GraphReadOptions).
bool config_feat_streamed(const Graph& graph);

// Reads and validates one graph file; Graph::id is the file name without ".npz". Throws
// InputError naming the path and the key for a missing key, a wrong rank/width/dtype, a node id
// out of 0..N-1, a NaN/Inf/negative runtime or normalizer, N = 0 or C = 0.
Graph read_graph(const std::filesystem::path& npz, Task task, const GraphReadOptions& options = {});

// The same checks on arrays already in memory; `where` names the source in messages.
Graph graph_from_npz(const NpzArrays& arrays, Task task, const std::string& id,
                     const std::string& where, const GraphReadOptions& options = {});

// Checks a Graph's invariants (sizes, id ranges, finite non-negative runtimes); throws
// InputError prefixed with `where`. config_feat may be left empty only when allow_streamed.
void validate_graph(const Graph& graph, const std::string& where, bool allow_streamed = false);

// node_config_feat [C, M, 18] of a layout graph file, read front to back a block of configs at a
// time (any stored float or integer dtype, converted to float32), never held whole.
class ConfigFeatStream {
 public:
  // Opens the array and checks its shape against the graph's C and M.
  ConfigFeatStream(const std::filesystem::path& npz, int64_t configs, int64_t config_nodes);
  int64_t configs_left() const { return configs_ - done_; }
  // The next `count` configs into dest: [count, M, 18].
  void read(int64_t count, float* dest);

 private:
  NpzReader reader_;
  NpzReader::Stream stream_;
  int64_t configs_, config_nodes_, done_ = 0;
  std::vector<uint8_t> raw_;  // one block in the stored dtype, when that is not float32
};

// The graph's arrays under their TpuGraphs keys and real dtypes: node_opcode uint8, edge_index,
// node_config_ids, config_runtime(_normalizers), node_splits int64, features float32; no
// node_config_feat when config_feat_streamed(graph).
NpzArrays graph_to_npz(const Graph& graph);

// Writes graph_to_npz(graph) atomically; compress=true is savez_compressed.
void write_graph(const std::filesystem::path& npz, const Graph& graph, bool compress);

}  // namespace gst
