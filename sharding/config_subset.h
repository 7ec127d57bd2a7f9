// `gst shard --max-configs N`: the subset of a graph's configs a store keeps when it has more.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/graph.h"

namespace gst {

// The configs kept of a graph with runtimes `runtime` when at most max_configs may stay, as the
// official TpuGraphs baseline chooses them: configs ordered by runtime (ties by index), the
// fastest floor(N/3), the slowest floor(N/3), and N - 2 floor(N/3) drawn at random from the
// ones in between. The draw is seeded by `seed` and the graph id, so the same input gives the
// same subset on every run and machine. Returns the kept config indices ascending (the store
// keeps the source's order); all configs when there are at most max_configs, or max_configs <= 0.
std::vector<int64_t> choose_configs(const std::vector<double>& runtime, int64_t max_configs,
                                    uint64_t seed, const std::string& graph_id);

// Keeps only the configs `keep` (ascending indices) of a graph: its runtimes, tile normalizers
// and config_feat rows (layout [C, M, 18] unless left in the source, tile [C, 24]).
void keep_configs(Graph* graph, const std::vector<int64_t>& keep);

}  // namespace gst
