// Partitioners: split a graph's nodes into segments that become contiguous ranges after
// renumbering.
#pragma once

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "data/graph.h"

namespace gst {

// contiguous: node id ranges (the reference GST); metis: k-way minimum edge cut.
enum class Partitioner { Contiguous, Metis };
constexpr auto enum_names(Partitioner) {
  return std::array{std::pair{Partitioner::Contiguous, "contiguous"},
                    std::pair{Partitioner::Metis, "metis"}};
}

// Segments of one graph: renumbered node i is original node original_id[i], and segment s holds
// renumbered nodes [offsets[s], offsets[s+1]). No segment is empty.
struct Partition {
  std::vector<int64_t> original_id;  // [N]
  std::vector<int64_t> offsets;      // [S + 1]

  int64_t num_segments() const { return static_cast<int64_t>(offsets.size()) - 1; }
  // original id -> renumbered id: [N]
  std::vector<int64_t> renumbering() const;
};

// Node ids cut into ranges of at most `segment_size` (the reference GST split); identity order.
Partition partition_contiguous(int64_t num_nodes, int64_t segment_size);

// METIS k-way (minimum edge cut) into ceil(N / segment_size) parts of the undirected graph;
// segments are the non-empty parts, nodes ordered by (part, original id). Part sizes are
// balanced within METIS's default tolerance (ufactor 30, i.e. up to 3% over N / parts).
// edges: [E, 2] (source, target). Deterministic for a given graph.
Partition partition_metis(int64_t num_nodes, const std::vector<int64_t>& edges,
                          int64_t segment_size);

Partition partition_graph(const Graph& graph, Partitioner partitioner, int64_t segment_size);

// Edges whose two ends lie in different segments. edges: [E, 2] original ids.
int64_t count_cut_edges(const Partition& partition, const std::vector<int64_t>& edges);

}  // namespace gst
