#include "eval/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "common/errors.h"

namespace gst {
namespace {

// Tau-b straight from its definition, O(n^2).
double brute_force_tau(const std::vector<double>& p, const std::vector<double>& t) {
  double concordant = 0, discordant = 0, p_untied = 0, t_untied = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    for (size_t j = i + 1; j < p.size(); ++j) {
      const double s = (p[i] - p[j]) * (t[i] - t[j]);
      concordant += s > 0;
      discordant += s < 0;
      p_untied += p[i] != p[j];
      t_untied += t[i] != t[j];
    }
  }
  return (concordant - discordant) / std::sqrt(p_untied * t_untied);
}

TEST(KendallTau, PerfectReversedAndHandComputedTies) {
  EXPECT_DOUBLE_EQ(kendall_tau({1, 2, 3, 4}, {10, 20, 30, 40}), 1.0);
  EXPECT_DOUBLE_EQ(kendall_tau({4, 3, 2, 1}, {10, 20, 30, 40}), -1.0);
  // pairs: 4 concordant, 0 discordant, one tie in each list: 4 / sqrt(5 * 5)
  EXPECT_DOUBLE_EQ(kendall_tau({1, 2, 3, 3}, {1, 2, 2, 3}), 0.8);
  // predicted {1, 3, 2, 1}, truth {1, 2, 3, 1}: pairs (0,1) C, (0,2) C, (0,3) tie both,
  // (1,2) D, (1,3) C, (2,3) C -> (4 - 1) / sqrt(5 * 5) = 0.6
  EXPECT_DOUBLE_EQ(kendall_tau({1, 3, 2, 1}, {1, 2, 3, 1}), 0.6);
  EXPECT_EQ(kendall_tau({1, 1, 1}, {1, 2, 3}), 0.0);  // constant prediction
  EXPECT_EQ(kendall_tau({1}, {1}), 0.0);
}

TEST(KendallTau, MatchesDefinitionOnRandomListsWithManyTies) {
  std::mt19937_64 rng(1);
  for (int trial = 0; trial < 50; ++trial) {
    const int n = 2 + static_cast<int>(rng() % 60);
    std::vector<double> p(n), t(n);
    for (int i = 0; i < n; ++i) {
      p[i] = static_cast<double>(rng() % 7);
      t[i] = static_cast<double>(rng() % 5);
    }
    EXPECT_NEAR(kendall_tau(p, t), brute_force_tau(p, t), 1e-12) << "n=" << n;
  }
}

TEST(KendallTau, RejectsMismatchedOrNonFiniteInput) {
  EXPECT_THROW(kendall_tau({1, 2}, {1}), Error);
  EXPECT_THROW(kendall_tau({1, NAN}, {1, 2}), Error);
}

TEST(OrderedPairAccuracy, HandComputedWithTies) {
  EXPECT_DOUBLE_EQ(ordered_pair_accuracy({1, 2, 3}, {1, 2, 3}), 1.0);
  EXPECT_DOUBLE_EQ(ordered_pair_accuracy({1, 3, 2}, {1, 2, 3}), 2.0 / 3);
  // a predicted tie on a pair with different truth counts as wrong
  EXPECT_DOUBLE_EQ(ordered_pair_accuracy({1, 2, 2}, {1, 2, 3}), 2.0 / 3);
  // pairs tied in truth are not counted: (0,2) and (1,2) only, both reversed
  EXPECT_DOUBLE_EQ(ordered_pair_accuracy({3, 2, 1}, {1, 1, 2}), 0.0);
  EXPECT_DOUBLE_EQ(ordered_pair_accuracy({1, 2, 3}, {1, 1, 2}), 1.0);
  EXPECT_DOUBLE_EQ(ordered_pair_accuracy({1, 2}, {5, 5}), 0.0);
}

TEST(TopKSlowdown, HandComputed) {
  const std::vector<double> truth{5, 1, 3, 2};
  const std::vector<double> predicted{0.1, 0.4, 0.2, 0.3};  // predicted order 0, 2, 3, 1
  EXPECT_DOUBLE_EQ(top_k_slowdown(predicted, truth, 1), 4.0);
  EXPECT_DOUBLE_EQ(top_k_slowdown(predicted, truth, 2), 2.0);
  EXPECT_DOUBLE_EQ(top_k_slowdown(predicted, truth, 3), 1.0);
  EXPECT_DOUBLE_EQ(top_k_slowdown(predicted, truth, 4), 0.0);
  EXPECT_DOUBLE_EQ(top_k_slowdown(predicted, truth, 10), 0.0);  // k clamped to n
  EXPECT_DOUBLE_EQ(top_k_slowdown({4, 1, 3, 2}, {4, 1, 3, 2}, 1), 0.0);
}

TEST(TopKSlowdown, TiesInPredictionAreBrokenPessimistically) {
  const std::vector<double> truth{2, 4, 1, 3};
  const std::vector<double> predicted{0, 0, 1, 1};
  EXPECT_DOUBLE_EQ(top_k_slowdown(predicted, truth, 1), 3.0);  // takes config 1 (truth 4)
  EXPECT_DOUBLE_EQ(top_k_slowdown(predicted, truth, 2), 1.0);  // {1, 0}: best 2
  EXPECT_DOUBLE_EQ(top_k_slowdown(predicted, truth, 3), 1.0);  // then config 3 (truth 3)
  EXPECT_DOUBLE_EQ(top_k_slowdown(predicted, truth, 4), 0.0);
  EXPECT_THROW(top_k_slowdown({1, 2}, {0, 1}, 1), Error);
}

}  // namespace
}  // namespace gst
