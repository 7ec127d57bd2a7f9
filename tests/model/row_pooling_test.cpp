#include "model/row_pooling.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "common/errors.h"

namespace gst {
namespace {

// The one pass against the separate ops the readout runs with autograd, with an empty run between
// two others and a run of one row, with and without weights.
TEST(PoolRows, EqualsTheSeparateOps) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(11);
  const int64_t k = 6, h = 37;
  const std::vector<int64_t> offsets = {0, 40, 40, 41, 90};
  const int64_t n = offsets.back();
  torch::Tensor d = torch::randn({n, k, h});
  torch::Tensor base = torch::randn({n, h}) * 2;
  torch::Tensor w = torch::rand({n}) * 100;
  for (bool weighted : {false, true}) {
    const RowPools pools = pool_rows(d, base, weighted ? w : torch::Tensor(), offsets);
    EXPECT_EQ(pools.weighted.defined(), weighted);
    for (size_t b = 0; b + 1 < offsets.size(); ++b) {
      const int64_t first = offsets[b], rows = offsets[b + 1] - offsets[b];
      if (rows == 0) {
        EXPECT_TRUE(torch::equal(pools.sum[b], torch::zeros({k, h})));
        EXPECT_TRUE(pools.max[b].isneginf().all().item<bool>());
        continue;
      }
      torch::Tensor part = d.narrow(0, first, rows);
      EXPECT_TRUE(torch::allclose(pools.sum[b], part.sum(0), 1e-5, 1e-5)) << "run " << b;
      EXPECT_TRUE(
          torch::equal(pools.max[b], (base.narrow(0, first, rows).unsqueeze(1) + part).amax(0)))
          << "run " << b;
      if (weighted) {
        torch::Tensor expected = (part * w.narrow(0, first, rows).view({-1, 1, 1})).sum(0);
        EXPECT_TRUE(torch::allclose(pools.weighted[b], expected, 1e-4, 1e-3)) << "run " << b;
      }
    }
  }
  // A NaN state stays NaN in the max, as amax keeps it.
  d[3][2][5] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(pool_rows(d, base, {}, offsets).max[0][2][5].item<float>()));
}

TEST(PoolRows, RefusesAutogradAndBadOffsets) {
  torch::Tensor d = torch::randn({4, 2, 3}), base = torch::randn({4, 3});
  EXPECT_THROW(pool_rows(d, base, {}, {0, 4}), Error);  // autograd on
  torch::NoGradGuard no_grad;
  EXPECT_THROW(pool_rows(d, base, {}, {0, 3}), Error);        // rows left over
  EXPECT_THROW(pool_rows(d, base, {}, {0, 3, 2, 4}), Error);  // falling
  EXPECT_THROW(pool_rows(d, base.narrow(0, 0, 3), {}, {0, 4}), Error);
  EXPECT_NO_THROW(pool_rows(d, base, {}, {0, 2, 4}));
}

}  // namespace
}  // namespace gst
