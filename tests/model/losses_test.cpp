#include "model/losses.h"

#include <gtest/gtest.h>

#include <cmath>

namespace gst {
namespace {

torch::Tensor row(std::vector<double> values) {
  return torch::tensor(values, torch::kFloat64).unsqueeze(0);
}

TEST(PairwiseHingeLoss, HandComputedPairsAndGradient) {
  // Runtimes 1 < 2 < 3 for configs 0, 2, 1: pairs (slower, faster) = (1,0), (1,2), (2,0).
  torch::Tensor scores = row({0.3, 0.0, 0.25}).requires_grad_();
  torch::Tensor loss = pairwise_hinge_loss(scores, row({1, 3, 2}));
  // gaps -0.3, -0.25, -0.05 -> hinges 0.4, 0.35, 0.15 -> mean 0.3
  EXPECT_NEAR(loss.item<double>(), 0.3, 1e-12);
  loss.backward();
  // each active pair pushes the slower score up and the faster down by 1/3
  EXPECT_NEAR(scores.grad()[0][0].item<double>(), 2.0 / 3, 1e-12);
  EXPECT_NEAR(scores.grad()[0][1].item<double>(), -2.0 / 3, 1e-12);
  EXPECT_NEAR(scores.grad()[0][2].item<double>(), 0.0, 1e-12);
}

TEST(PairwiseHingeLoss, SatisfiedMarginsCostNothingAndMarginIsConfigurable) {
  torch::Tensor scores = row({0.0, 0.5, 0.2});
  EXPECT_EQ(pairwise_hinge_loss(scores, row({1, 3, 2})).item<double>(), 0.0);
  // margin 0.4: pairs (1,0) gap .5 -> 0, (1,2) gap .3 -> .1, (2,0) gap .2 -> .2
  EXPECT_NEAR(pairwise_hinge_loss(scores, row({1, 3, 2}), 0.4).item<double>(), 0.1, 1e-12);
}

TEST(PairwiseHingeLoss, TiesSkippedGraphsAveragedMaskHonoured) {
  // Graph 0: configs 1 and 2 tie in runtime, only pairs (1,0) and (2,0) count:
  // gaps 0.1 and -0.2 -> hinges 0 and 0.3 -> 0.15. Graph 1: one pair (0,1), gap 0 -> 0.1.
  torch::Tensor scores =
      torch::tensor({0.0, 0.1, -0.2, 0.5, 0.5, 9.0}, torch::kFloat64).view({2, 3});
  torch::Tensor runtimes = torch::tensor({1, 2, 2, 5, 4, 100}, torch::kFloat64).view({2, 3});
  torch::Tensor mask = torch::tensor({true, true, true, true, true, false}).view({2, 3});
  EXPECT_NEAR(pairwise_hinge_loss(scores, runtimes, 0.1, mask).item<double>(), (0.15 + 0.1) / 2,
              1e-12);
  // Unmasked, graph 1 adds pairs (2,0) and (2,1) that its score 9 satisfies: 0.1 / 3.
  EXPECT_NEAR(pairwise_hinge_loss(scores, runtimes).item<double>(), (0.15 + 0.1 / 3) / 2, 1e-12);
  // A graph whose configs all tie has no pair and is left out of the average.
  torch::Tensor flat = torch::tensor({1, 2, 2, 7, 7, 7}, torch::kFloat64).view({2, 3});
  EXPECT_NEAR(pairwise_hinge_loss(scores, flat).item<double>(), 0.15, 1e-12);
}

TEST(ListMleLoss, HandComputedTwoAndThreeConfigs) {
  // Two configs, equal scores: (log 2 + 0) / 2.
  EXPECT_NEAR(listmle_loss(row({0, 0}), row({1, 2})).item<double>(), std::log(2.0) / 2, 1e-12);
  // Config 0 fastest with score 1 (predicted slower): utilities -1, 0.
  // (log(e^-1 + e^0) + 1 + 0) / 2
  EXPECT_NEAR(listmle_loss(row({1, 0}), row({1, 2})).item<double>(),
              (std::log(std::exp(-1.0) + 1.0) + 1.0) / 2, 1e-12);
  // Three configs, true order 2, 0, 1 (runtimes 5, 9, 1); utilities u = -s = (0.5, -1, 2).
  const double u2 = 2, u0 = 0.5, u1 = -1;
  const double expected = (std::log(std::exp(u2) + std::exp(u0) + std::exp(u1)) - u2 +
                           std::log(std::exp(u0) + std::exp(u1)) - u0) /
                          3;
  torch::Tensor scores = row({-0.5, 1, -2}).requires_grad_();
  torch::Tensor loss = listmle_loss(scores, row({5, 9, 1}));
  EXPECT_NEAR(loss.item<double>(), expected, 1e-12);
  loss.backward();
  // d/ds_2 = -d/du_2 = -(softmax_2 over {2,0,1} - 1) / 3
  const double p2 = std::exp(u2) / (std::exp(u2) + std::exp(u0) + std::exp(u1));
  EXPECT_NEAR(scores.grad()[0][2].item<double>(), (1 - p2) / 3, 1e-12);
  EXPECT_GT(listmle_loss(row({2, -1, 0.5}), row({5, 9, 1})).item<double>(), expected);
}

TEST(ListMleLoss, TopWeightedDiscountsEachTruePositionLikeDcg) {
  // True order 2, 0, 1; utilities u = -s = (0.5, -1, 2). Terms by true position: lse(u2, u0, u1)
  // - u2, lse(u0, u1) - u0, 0; weights 1, 1 / log2 3, 1 / log2 4 = 1 / 2.
  const double u2 = 2, u0 = 0.5, u1 = -1;
  const double t0 = std::log(std::exp(u2) + std::exp(u0) + std::exp(u1)) - u2;
  const double t1 = std::log(std::exp(u0) + std::exp(u1)) - u0;
  const double w1 = 1 / std::log2(3.0);
  EXPECT_NEAR(listmle_loss(row({-0.5, 1, -2}), row({5, 9, 1}), {}, true).item<double>(),
              (t0 + w1 * t1) / (1 + w1 + 0.5), 1e-12);
  // Swapping the two fastest configs costs more than swapping the two slowest; the unweighted
  // loss charges the slow swap more (1.53 against 1.72).
  torch::Tensor runtimes = row({1, 2, 3}), top_swapped = row({-1, -2, 0}),
                tail_swapped = row({-2, 0, -1});
  EXPECT_GT(listmle_loss(top_swapped, runtimes, {}, true).item<double>(),
            listmle_loss(tail_swapped, runtimes, {}, true).item<double>());
  EXPECT_LT(listmle_loss(top_swapped, runtimes).item<double>(),
            listmle_loss(tail_swapped, runtimes).item<double>());
  // Padded configs sort last and weigh nothing: the same as the graph without them.
  torch::Tensor mask = torch::tensor({true, true, true, false}).view({1, 4});
  EXPECT_NEAR(listmle_loss(row({-0.5, 1, -2, 7}), row({5, 9, 1, 0.5}), mask, true).item<double>(),
              (t0 + w1 * t1) / (1 + w1 + 0.5), 1e-12);
}

TEST(ListMleLoss, PaddedConfigsDoNotCount) {
  torch::Tensor scores = torch::tensor({1.0, 0.0, -30.0}, torch::kFloat64).view({1, 3});
  torch::Tensor runtimes = torch::tensor({1.0, 2.0, 0.5}, torch::kFloat64).view({1, 3});
  torch::Tensor mask = torch::tensor({true, true, false}).view({1, 3});
  scores.requires_grad_();
  torch::Tensor loss = listmle_loss(scores, runtimes, mask);
  EXPECT_NEAR(loss.item<double>(), (std::log(std::exp(-1.0) + 1.0) + 1.0) / 2, 1e-12);
  loss.backward();
  EXPECT_EQ(scores.grad()[0][2].item<double>(), 0.0);
  EXPECT_TRUE(torch::isfinite(scores.grad()).all().item<bool>());
}

// Within 1e-9: the 1e-12 guard against zero runtimes shifts each log slowdown by up to 1e-12.
TEST(ExpectedSlowdownLoss, HandComputedAndChargedByHowMuchSlowerTheTopPickRuns) {
  // Runtimes 2, 4, 16 (log slowdowns 0, log 2, log 8); scores 0, 0, log 2 -> p = (2, 2, 1) / 5.
  torch::Tensor scores = row({0, 0, std::log(2.0)}).requires_grad_();
  torch::Tensor loss = expected_slowdown_loss(scores, row({2, 4, 16}));
  const double expected = (2 * std::log(2.0) + std::log(8.0)) / 5;
  EXPECT_NEAR(loss.item<double>(), expected, 1e-9);
  loss.backward();
  // d/ds_i = -p_i (l_i - E[l]): the fastest config's score is pushed down, the slowest's up.
  EXPECT_NEAR(scores.grad()[0][0].item<double>(), 0.4 * expected, 1e-9);
  EXPECT_NEAR(scores.grad()[0][2].item<double>(), -0.2 * (std::log(8.0) - expected), 1e-9);
  // The same wrong order costs little when the configs nearly tie and much when they do not;
  // a confident right pick costs nearly nothing.
  torch::Tensor wrong = row({1, 0, 5}), right = row({-20, 0, 5});
  EXPECT_LT(expected_slowdown_loss(wrong, row({10, 10.1, 50})).item<double>(), 0.02);
  EXPECT_GT(expected_slowdown_loss(wrong, row({10, 30, 50})).item<double>(), 0.7);
  EXPECT_LT(expected_slowdown_loss(right, row({10, 30, 50})).item<double>(), 1e-8);
}

TEST(ExpectedSlowdownLoss, PaddedConfigsAndOneConfigGraphsDoNotCount) {
  // Graph 0: config 2 padded (its runtime 0.5 would be the fastest); graph 1: one valid config,
  // its runtime 0.
  torch::Tensor scores = torch::tensor({0.0, 0.0, -30.0, 1.0, 2.0, 3.0}, torch::kFloat64)
                             .view({2, 3})
                             .requires_grad_();
  torch::Tensor runtimes =
      torch::tensor({1.0, 4.0, 0.5, 0.0, 1.0, 1.0}, torch::kFloat64).view({2, 3});
  torch::Tensor mask = torch::tensor({true, true, false, true, false, false}).view({2, 3});
  torch::Tensor loss = expected_slowdown_loss(scores, runtimes, mask);
  EXPECT_NEAR(loss.item<double>(), std::log(4.0) / 2, 1e-9);
  loss.backward();
  EXPECT_EQ(scores.grad()[0][2].item<double>(), 0.0);
  EXPECT_TRUE(scores.grad()[1].eq(0).all().item<bool>());
  // A zero runtime counts as 1e-12 of the graph's slowest: finite, large.
  double zero_fastest = expected_slowdown_loss(row({1, 0}), row({0, 2})).item<double>();
  EXPECT_NEAR(zero_fastest, std::log(1e12) / (1 + std::exp(-1.0)), 1e-6);
}

}  // namespace
}  // namespace gst
