// World-size independent batches (train.sampling: global): every rank draws the same global batch
// stream over all training graphs and trains its slice of it, so 1 rank with batch B and R ranks
// with batch B/R see the same graphs, configs, segments and SED masks at every step.
#pragma once

#include <cstdint>
#include <vector>

#include "train/graph_sampler.h"

namespace gst {

// One rank's part of a step's global batch.
struct BatchSlice {
  std::vector<int64_t> graphs;  // graph indices, in global batch order
  int64_t first = 0;            // position of graphs[0] in the global batch
};

class GlobalBatchSampler {
 public:
  // graphs: every training graph; per_rank: graphs per rank per step (global = per_rank x ranks).
  GlobalBatchSampler(std::vector<int64_t> graphs, int64_t per_rank, uint64_t seed, int rank,
                     int ranks);
  BatchSlice batch(int64_t step) const;

 private:
  GraphSampler stream_;  // the global stream, seeded without the rank
  int64_t per_rank_;
  int rank_;
};

// The seed of one sample's configs, segments and SED masks: a function of (seed, step, position
// in the global batch) only.
uint64_t global_sample_seed(uint64_t seed, int64_t step, int64_t position);

}  // namespace gst
