#include "gst/sampling.h"

#include <gtest/gtest.h>

#include <set>

namespace {

TEST(Sampling, ConfigsAreDistinctAndDeterministic) {
  auto r1 = gst::seeded_rng({1, 2, 3});
  auto r2 = gst::seeded_rng({1, 2, 3});
  auto a = gst::sample_configs(100, 32, 0, {}, r1);
  auto b = gst::sample_configs(100, 32, 0, {}, r2);
  EXPECT_EQ(a, b);
  EXPECT_EQ(std::set<int64_t>(a.begin(), a.end()).size(), 32u);
  auto r3 = gst::seeded_rng({1, 2, 4});
  EXPECT_NE(gst::sample_configs(100, 32, 0, {}, r3), a);
}

TEST(Sampling, FewConfigsUsesAllThenRepeats) {
  auto rng = gst::seeded_rng({7});
  auto a = gst::sample_configs(5, 8, 0, {}, rng);
  ASSERT_EQ(a.size(), 8u);
  for (int64_t c = 0; c < 5; ++c) EXPECT_EQ(a[c], c);
  for (int64_t c : a) EXPECT_LT(c, 5);
}

TEST(Sampling, BiasDrawsFromTheBestQuarter) {
  std::vector<double> runtime(400);
  for (int i = 0; i < 400; ++i) runtime[i] = 1000 - i;  // best configs have the highest ids
  int good = 0, total = 0;
  for (uint64_t s = 0; s < 50; ++s) {
    auto rng = gst::seeded_rng({s});
    for (int64_t c : gst::sample_configs(400, 32, 0.5, runtime, rng)) {
      good += c >= 300;
      ++total;
    }
  }
  // 16 of 32 from the best quarter, the other 16 from the other three quarters: exactly half.
  EXPECT_EQ(good * 2, total);
}

TEST(Sampling, SegmentsDistinctSorted) {
  auto rng = gst::seeded_rng({3});
  auto s = gst::sample_segments(10, 3, rng);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));
  EXPECT_EQ(std::set<int64_t>(s.begin(), s.end()).size(), 3u);
  EXPECT_EQ(gst::sample_segments(2, 3, rng), std::vector<int64_t>({0, 1}));
}

TEST(StaleEmbeddingDropout, RescaledCombinationKeepsTheMean) {
  // Stale embeddings with distinct values; the mean of the SED-combined sum over many draws must
  // equal the undropped sum.
  const std::vector<double> stale = {1.0, -2.0, 3.5, 0.25, 7.0};
  const double undropped = 1.0 - 2.0 + 3.5 + 0.25 + 7.0;
  for (double p : {0.25, 0.5, 0.8}) {
    auto rng = gst::seeded_rng({42, static_cast<uint64_t>(p * 100)});
    const int draws = 200000;
    double sum = 0;
    int64_t dropped = 0;
    for (int d = 0; d < draws; ++d) {
      auto scales = gst::stale_dropout_scales(stale.size(), p, rng);
      for (size_t i = 0; i < stale.size(); ++i) {
        sum += scales[i] * stale[i];
        dropped += scales[i] == 0;
      }
    }
    EXPECT_NEAR(sum / draws, undropped, 0.05 * undropped) << "p=" << p;
    EXPECT_NEAR(static_cast<double>(dropped) / (draws * stale.size()), p, 0.01);
  }
  auto rng = gst::seeded_rng({1});
  EXPECT_EQ(gst::stale_dropout_scales(4, 0.0, rng), std::vector<float>(4, 1.0f));
}

}  // namespace
