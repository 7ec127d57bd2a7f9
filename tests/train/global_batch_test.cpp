#include "train/global_batch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

namespace {

std::vector<int64_t> graphs(int n) {
  std::vector<int64_t> g(n);
  std::iota(g.begin(), g.end(), 100);
  return g;
}

// The ranks' slices, concatenated in rank order, are the 1-rank batch of the same global size.
TEST(GlobalBatchSampler, SlicesOfAnyWorldSizeFormTheSameGlobalBatch) {
  const gst::GlobalBatchSampler one(graphs(10), 4, 7, 0, 1);
  for (int ranks : {2, 4}) {
    for (int64_t step = 0; step < 12; ++step) {
      std::vector<int64_t> joined;
      for (int r = 0; r < ranks; ++r) {
        const gst::BatchSlice slice =
            gst::GlobalBatchSampler(graphs(10), 4 / ranks, 7, r, ranks).batch(step);
        EXPECT_EQ(slice.first, static_cast<int64_t>(joined.size()));
        joined.insert(joined.end(), slice.graphs.begin(), slice.graphs.end());
      }
      EXPECT_EQ(joined, one.batch(step).graphs) << "ranks " << ranks << " step " << step;
    }
  }
}

TEST(GlobalBatchSampler, EveryGraphOncePerEpochAndSeedsDiffer) {
  const gst::GlobalBatchSampler s(graphs(8), 2, 3, 0, 2);  // global batch 4: 2 steps per epoch
  std::vector<int64_t> seen;
  for (int64_t step = 0; step < 2; ++step)
    for (int r = 0; r < 2; ++r) {
      auto b = gst::GlobalBatchSampler(graphs(8), 2, 3, r, 2).batch(step).graphs;
      seen.insert(seen.end(), b.begin(), b.end());
    }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, graphs(8));
  EXPECT_NE(gst::global_sample_seed(3, 0, 1), gst::global_sample_seed(3, 0, 2));
  EXPECT_NE(gst::global_sample_seed(3, 0, 1), gst::global_sample_seed(3, 1, 1));
  EXPECT_NE(gst::global_sample_seed(3, 0, 1), gst::global_sample_seed(4, 0, 1));
}

}  // namespace
