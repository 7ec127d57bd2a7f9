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
};

// Reads and validates one graph file; Graph::id is the file name without ".npz". Throws
// InputError naming the path and the key for a missing key, a wrong rank/width/dtype, a node id
// out of 0..N-1, a NaN/Inf/negative runtime or normalizer, N = 0 or C = 0.
Graph read_graph(const std::filesystem::path& npz, Task task, const GraphReadOptions& options = {});

// The same checks on arrays already in memory; `where` names the source in messages.
Graph graph_from_npz(const NpzArrays& arrays, Task task, const std::string& id,
                     const std::string& where, const GraphReadOptions& options = {});

// Checks a Graph's invariants (sizes, id ranges, finite non-negative runtimes); throws
// InputError prefixed with `where`.
void validate_graph(const Graph& graph, const std::string& where);

// The graph's arrays under their TpuGraphs keys and real dtypes: node_opcode uint8, edge_index,
// node_config_ids, config_runtime(_normalizers), node_splits int64, features float32.
NpzArrays graph_to_npz(const Graph& graph);

// Writes graph_to_npz(graph) atomically; compress=true is savez_compressed.
void write_graph(const std::filesystem::path& npz, const Graph& graph, bool compress);

}  // namespace gst
