// Balancing graphs across shard files by work (nodes x configs).
#pragma once

#include <cstdint>
#include <vector>

namespace gst {

// Longest-processing-time greedy: graphs by decreasing work, each to the currently lightest shard
// (ties: lower graph index first, lower shard first). Returns the shard of each graph.
std::vector<int> assign_shards(const std::vector<int64_t>& work, int shards);

// Sum of work per shard under an assignment.
std::vector<int64_t> shard_work(const std::vector<int64_t>& work, const std::vector<int>& shard_of,
                                int shards);

}  // namespace gst
