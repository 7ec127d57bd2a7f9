// With train.sampling: global, R ranks with per-rank batch B/R train on the same steps as 1 rank
// with batch B: same graphs, configs, segments and SED masks per step, the same history table
// contents, and gradients whose average over ranks is the 1-rank mean over the batch. Runs gst
// train under mpirun (tiny synthetic store, hidden 16, lr > 0) and compares the per-step losses
// and every parameter after 20 steps; model dropout is 0 (torch draws its masks per batch tensor).
// Each graph runs its own forward and backward and the gradients are summed in float64 across
// graphs and ranks, so world sizes differ only below float32 resolution (see src/comm/README.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

#include "eval/trained_model.h"
#include "test_support.h"
#include "train_fixtures.h"

namespace {

namespace fs = std::filesystem;

constexpr int kGlobalBatch = 4;  // 16 train graphs: every global batch is 4 distinct graphs

class RankEquivalenceTest : public ::testing::Test {
 protected:
  // The store and the 1-rank reference run are computed once and shared by the tests of this
  // suite, each of which ctest runs in a process of its own.
  static void SetUpTestSuite() {
    dir_ = new gst::testing::ScratchDir("rank_equiv");
    store_ =
        new fs::path(gst::testing::shared_result("rank_equivalence_store", make_store) / "store");
    gst::testing::write_text(dir_->path() / "run.yaml",
                             gst::testing::tiny_run_yaml(*store_, dir_->path() / "unused"));
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete store_;
  }

  static bool make_store(const fs::path& dir) {
    gst::testing::TinyStore s;
    s.train = 16;
    s.valid = 1;
    s.test = 1;
    s.shards = 3;
    gst::testing::make_store(dir / "store", s);
    return true;
  }

  // The 1-rank run with overlap on that every other run is compared with.
  static fs::path reference() {
    return gst::testing::shared_result("rank_equivalence_reference", [](const fs::path& run) {
      return train_into(run, 1, true, "global");
    });
  }

  // Trains 20 steps on `ranks` ranks with per-rank batch kGlobalBatch / ranks; returns the run.
  static fs::path train(int ranks, bool overlap, const std::string& sampling = "global",
                        const std::string& precision = "fp32") {
    const fs::path run = dir_->path() / ("r" + std::to_string(ranks) + "_" + sampling +
                                         (overlap ? "_overlap" : "_plain") + "_" + precision);
    train_into(run, ranks, overlap, sampling, precision);
    return run;
  }

  static bool train_into(const fs::path& run, int ranks, bool overlap, const std::string& sampling,
                         const std::string& precision = "fp32") {
    const std::string args =
        "train --config " + (dir_->path() / "run.yaml").string() + " --run-dir " + run.string() +
        " --set train.sampling=" + sampling +
        " --set train.steps=20 --set train.log_every=1 --set train.lr=0.003"
        " --set train.batch_graphs=" +
        std::to_string(kGlobalBatch / ranks) +
        " --set train.valid_graphs=1 --set model.hidden=16 --set model.projection=16"
        " --set model.head_hidden=16 --set model.dropout=0 --set dist.backend=mpi"
        " --set train.precision=" +
        precision + " --set dist.overlap=" + (overlap ? "true" : "false");
    auto r = gst::testing::run_command(gst::testing::mpirun_gst(ranks, args));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.exit_code == 0;
  }

  // Largest relative difference of the per-step training losses (mean over ranks).
  static double max_relative_diff(const fs::path& run, const fs::path& reference) {
    const auto a = gst::testing::train_losses(run), b = gst::testing::train_losses(reference);
    EXPECT_EQ(a.size(), 20u) << run;
    EXPECT_EQ(a.size(), b.size()) << run;
    double worst = 0;
    for (const auto& [step, loss] : b) {
      const auto it = a.find(step);
      if (it == a.end()) continue;
      worst = std::max(worst, std::abs(it->second - loss) / std::max(std::abs(loss), 1e-12));
    }
    return worst;
  }

  // The parameter tensor that differs most after the last step, by max |a - b| / max |b| (name
  // empty when every parameter is bitwise equal).
  static std::pair<double, std::string> max_parameter_diff(const fs::path& run,
                                                           const fs::path& reference) {
    const gst::TrainedModel a = gst::load_trained_model(run.string(), "", "", torch::kCPU);
    const gst::TrainedModel b = gst::load_trained_model(reference.string(), "", "", torch::kCPU);
    EXPECT_EQ(a.checkpoint.step, 20) << run;
    const auto pa = a.model->named_parameters(), pb = b.model->named_parameters();
    EXPECT_EQ(pa.size(), pb.size());
    std::pair<double, std::string> worst{0.0, ""};
    for (const auto& p : pb) {
      const double diff = (pa[p.key()] - p.value()).abs().max().item<double>();
      const double scale = std::max(p.value().abs().max().item<double>(), 1e-12);
      if (diff / scale > worst.first) worst = {diff / scale, p.key()};
    }
    return worst;
  }

  // Losses and parameters of `ranks` ranks (overlap on and off) against 1 rank (overlap on), and
  // 1 rank with overlap off against on; prints the measured differences.
  static void expect_equivalent(int ranks) {
    const fs::path one = reference();
    for (bool overlap : {true, false}) {
      const fs::path run = train(ranks, overlap);
      const double losses = max_relative_diff(run, one);
      const auto [diff, name] = max_parameter_diff(run, one);
      std::printf(
          "[ measured ] %d ranks, overlap %s vs 1 rank: losses %.3g relative, parameters %.3g "
          "(worst: %s)\n",
          ranks, overlap ? "on" : "off", losses, diff,
          name.empty() ? "none: bitwise equal" : name.c_str());
      EXPECT_LE(losses, 1e-5) << "losses, overlap " << overlap;
      EXPECT_LE(diff, 1e-5) << "parameter " << name << ", overlap " << overlap;
    }
  }

  static gst::testing::ScratchDir* dir_;
  static fs::path* store_;
};
gst::testing::ScratchDir* RankEquivalenceTest::dir_ = nullptr;
fs::path* RankEquivalenceTest::store_ = nullptr;

TEST_F(RankEquivalenceTest, OverlapOffMatchesOnOneRank) {
  const fs::path on = reference(), off = train(1, false);
  const auto [diff, name] = max_parameter_diff(off, on);
  std::printf("[ measured ] 1 rank, overlap off vs on: parameters %.3g (worst: %s)\n", diff,
              name.empty() ? "none: bitwise equal" : name.c_str());
  EXPECT_EQ(diff, 0.0) << "parameter " << name;
}

TEST_F(RankEquivalenceTest, TwoRanksMatchOneRank) { expect_equivalent(2); }

TEST_F(RankEquivalenceTest, FourRanksMatchOneRank) { expect_equivalent(4); }

// bf16 matrix products: every graph's forward and backward is still the same computation on any
// rank, so the float64 sums keep 2 ranks equal to 1.
TEST_F(RankEquivalenceTest, TwoRanksMatchOneRankInBf16) {
  const fs::path one = train(1, true, "global", "bf16"), two = train(2, true, "global", "bf16");
  const double losses = max_relative_diff(two, one);
  const auto [diff, name] = max_parameter_diff(two, one);
  std::printf(
      "[ measured ] bf16, 2 ranks vs 1 rank: losses %.3g relative, parameters %.3g (worst: "
      "%s)\n",
      losses, diff, name.empty() ? "none: bitwise equal" : name.c_str());
  EXPECT_LE(losses, 1e-5);
  EXPECT_LE(diff, 1e-5) << "parameter " << name;
  // and bf16 did change the run: its losses differ from fp32's
  EXPECT_GT(max_relative_diff(one, reference()), 0);
}

// The checks can fail: per-rank sampling draws other samples on 2 ranks, and the losses and
// parameters differ.
TEST_F(RankEquivalenceTest, RankSamplingDiffers) {
  const fs::path rank = train(2, true, "rank"), one = reference();
  const double losses = max_relative_diff(rank, one);
  const auto [diff, name] = max_parameter_diff(rank, one);
  std::printf(
      "[ measured ] 2 ranks, per-rank sampling vs 1 rank: losses %.3g relative, parameters %.3g "
      "(worst: %s)\n",
      losses, diff, name.c_str());
  EXPECT_GT(losses, 1e-3);
  EXPECT_GT(diff, 1e-3);
}

}  // namespace
