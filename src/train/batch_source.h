// What each step of a rank trains on: the one place that picks a step's graphs (train.sampling:
// rank or global) and samples their configs and segments.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gst/gst_step.h"
#include "run/run_config.h"
#include "store/segment_store.h"
#include "train/global_batch.h"
#include "train/graph_sampler.h"

namespace gst {

// A step's samples, and the rank's step generator after drawing them: prepare() takes the SED
// masks of graphs without a seed of their own from it.
struct StepBatch {
  std::vector<GraphSample> samples;
  std::mt19937_64 rng;
};

class BatchSource {
 public:
  // The training graphs of `store` (split data.train_split), owned by ranks balanced by work.
  // Throws InputError when the split is empty or a rank would own no graph.
  BatchSource(const SegmentStore& store, const RunConfig& config, int rank, int ranks);

  // The samples of `step`: a pure function of (seed, rank or global position, step), so a resumed
  // run needs no sampler state.
  StepBatch batch(int64_t step, GstStep& gst) const;

  // How the samples derive from the seed, as the checkpoint's rng file records it.
  std::string scheme() const;
  int64_t train_graphs() const { return train_graphs_; }
  int64_t rank0_graphs() const { return rank0_graphs_; }

 private:
  std::vector<GraphSample> global_samples(int64_t step, GstStep& gst) const;

  uint64_t seed_;
  int rank_;
  int64_t train_graphs_ = 0, rank0_graphs_ = 0;
  std::unique_ptr<GraphSampler> sampler_;               // train.sampling: rank
  std::unique_ptr<GlobalBatchSampler> global_sampler_;  // train.sampling: global
};

}  // namespace gst
