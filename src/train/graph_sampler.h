// Which training graphs each rank owns, and the graphs a rank trains at each step.
#pragma once

#include <cstdint>
#include <vector>

namespace gst {

struct OwnedGraph {
  int64_t graph = 0;  // index into SegmentStore::graphs()
  int shard = 0;
  int64_t work = 0;  // nodes x configs
};

// Splits `graphs` over `ranks` balanced by work. Whole shards go to ranks (largest first to the
// least loaded rank) so a rank opens only its shards; when that leaves a rank idle (ranks >
// shards) or the most loaded rank above 1.25x the mean, the graphs themselves are split the same
// way instead. Deterministic; every graph lands on exactly one rank; no rank is idle while there
// are at least as many graphs as ranks. Returns per rank its graph indices in increasing order.
std::vector<std::vector<int64_t>> assign_graphs_to_ranks(const std::vector<OwnedGraph>& graphs,
                                                         int ranks);

// The per-rank batch stream: epochs of the rank's graphs shuffled with a seed of (seed, rank,
// epoch), cut into batches of `batch` graphs (a batch may span two epochs). A pure function of
// the step, so a resumed run needs no sampler state.
class GraphSampler {
 public:
  GraphSampler(std::vector<int64_t> owned, int64_t batch, uint64_t seed, int rank);
  std::vector<int64_t> batch(int64_t step) const;
  int64_t epoch_of(int64_t step) const;
  const std::vector<int64_t>& owned() const { return owned_; }

 private:
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  std::vector<int64_t> owned_;
  int64_t batch_;
  uint64_t seed_;
  int rank_;
};

}  // namespace gst
