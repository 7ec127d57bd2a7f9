#include "train/global_batch.h"

#include "gst/sampling.h"

namespace gst {

GlobalBatchSampler::GlobalBatchSampler(std::vector<int64_t> graphs, int64_t per_rank, uint64_t seed,
                                       int rank, int ranks)
    : stream_(std::move(graphs), per_rank * ranks, seed, /*rank=*/0),
      per_rank_(per_rank),
      rank_(rank) {}

BatchSlice GlobalBatchSampler::batch(int64_t step) const {
  const std::vector<int64_t> global = stream_.batch(step);  // [per_rank x ranks]
  BatchSlice out;
  out.first = rank_ * per_rank_;
  out.graphs.assign(global.begin() + out.first, global.begin() + out.first + per_rank_);
  return out;
}

uint64_t global_sample_seed(uint64_t seed, int64_t step, int64_t position) {
  return mix_seed({seed, static_cast<uint64_t>(step), static_cast<uint64_t>(position), 0x73});
}

}  // namespace gst
