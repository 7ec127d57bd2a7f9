#include "train/batch_source.h"

#include "common/errors.h"
#include "gst/sampling.h"

namespace gst {

BatchSource::BatchSource(const SegmentStore& store, const RunConfig& config, int rank, int ranks)
    : seed_(static_cast<uint64_t>(config.train.seed)), rank_(rank) {
  std::vector<OwnedGraph> graphs;
  for (int64_t g : store.split(config.data.train_split)) {
    const GraphEntry& e = store.graphs()[g];
    graphs.push_back({g, e.shard, e.work()});
  }
  if (graphs.empty())
    input_error("{}: the store has no graphs in split '{}'", config.data.store,
                config.data.train_split);
  const auto owned = assign_graphs_to_ranks(graphs, ranks);
  train_graphs_ = static_cast<int64_t>(graphs.size());
  rank0_graphs_ = static_cast<int64_t>(owned[0].size());
  const int64_t per_rank = config.train.batch_graphs;
  if (config.train.sampling == Sampling::Global) {
    std::vector<int64_t> all;
    for (const auto& g : graphs) all.push_back(g.graph);
    global_sampler_ = std::make_unique<GlobalBatchSampler>(all, per_rank, seed_, rank, ranks);
  } else {
    sampler_ = std::make_unique<GraphSampler>(owned[rank], per_rank, seed_, rank);
  }
}

StepBatch BatchSource::batch(int64_t step, GstStep& gst) const {
  StepBatch out{
      {}, seeded_rng({seed_, static_cast<uint64_t>(rank_), static_cast<uint64_t>(step), 0x71})};
  out.samples =
      global_sampler_ ? global_samples(step, gst) : gst.sample(sampler_->batch(step), out.rng);
  return out;
}

// Each graph's configs, segments and SED masks come from a generator seeded by its position in
// the global batch, not from the rank's step generator.
std::vector<GraphSample> BatchSource::global_samples(int64_t step, GstStep& gst) const {
  const BatchSlice slice = global_sampler_->batch(step);
  std::vector<GraphSample> samples;
  for (size_t i = 0; i < slice.graphs.size(); ++i) {
    const uint64_t seed = global_sample_seed(seed_, step, slice.first + static_cast<int64_t>(i));
    auto own = seeded_rng({seed});
    GraphSample s = gst.sample({slice.graphs[i]}, own).front();
    s.sed_seed = seed;
    samples.push_back(std::move(s));
  }
  return samples;
}

std::string BatchSource::scheme() const {
  return global_sampler_ ? "global batch; per-sample generators seeded from "
                           "(seed, step, position in the global batch)"
                         : "per-step generators seeded from (seed, rank, step)";
}

}  // namespace gst
