#include "gst/gst_step.h"

#include <gtest/gtest.h>

#include "../train/train_fixtures.h"
#include "comm/distributed_history_table.h"
#include "comm/mpi_communicator.h"
#include "gst/sampling.h"
#include "model/losses.h"
#include "test_support.h"

namespace {

using namespace gst;

class GstStepTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new gst::testing::ScratchDir("gst_step");
    gst::testing::TinyStore layout;
    layout.train = 4;
    layout.valid = layout.test = 0;
    layout_ = SegmentStore::open(gst::testing::make_store(dir_->path() / "layout", layout));
    gst::testing::TinyStore tile = layout;
    tile.task = Task::Tile;
    tile.segment_size = 8;  // several segments per kernel
    tile_ = SegmentStore::open(gst::testing::make_store(dir_->path() / "tile", tile));
  }
  static void TearDownTestSuite() {
    layout_.reset();
    tile_.reset();
    delete dir_;
  }

  static CostModel model_for(const SegmentStore& store, TileJoin join = TileJoin::Late) {
    ModelConfig mc;
    mc.tile_join = join;
    mc.hidden = 16;
    mc.projection = 8;
    mc.layers = 2;
    mc.head_hidden = 16;
    mc.dropout = 0;  // deterministic forward passes to compare
    torch::manual_seed(3);
    return CostModel(mc, store.manifest().task, store.manifest().node_columns,
                     store.manifest().config_columns);
  }

  static std::vector<int64_t> all_train(const SegmentStore& store) { return store.split("train"); }

  // One step's samples of every train graph of the layout store (seeded: the same every call).
  static std::vector<GraphSample> sample_train(CostModel& model, const GstConfig& cfg) {
    auto rng = seeded_rng({5});
    DistributedHistoryTable table(gst::testing::world(), model->embedding_dim());
    GstStep step(model, *layout_, &table, cfg, RankingLoss{}, torch::kCPU, 100000);
    return step.sample(all_train(*layout_), rng);
  }

  static gst::testing::ScratchDir* dir_;
  static std::shared_ptr<SegmentStore> layout_, tile_;
};
gst::testing::ScratchDir* GstStepTest::dir_ = nullptr;
std::shared_ptr<SegmentStore> GstStepTest::layout_, GstStepTest::tile_;

// With SED off and every stale entry computed fresh (first step, missing=compute), the GST
// combination is exactly the all-fresh graph embedding the head fine-tuning stage uses; tile
// with its configs at the head only and at the nodes too.
TEST_F(GstStepTest, FirstStepWithComputedMissingEqualsAllFresh) {
  for (auto [store, join] : {std::pair{layout_.get(), TileJoin::Late},
                             {tile_.get(), TileJoin::Late},
                             {tile_.get(), TileJoin::Early}}) {
    SCOPED_TRACE(to_string(join));
    CostModel model = model_for(*store, join);
    GstConfig cfg;
    cfg.configs_per_graph = 6;
    cfg.sed_p = 0;
    const int64_t dim = model->embedding_dim();
    DistributedHistoryTable table(gst::testing::world(), dim);
    GstStep step(model, *store, &table, cfg, RankingLoss{}, torch::kCPU, 100000);
    auto rng = seeded_rng({1});
    auto samples = step.sample(all_train(*store), rng);
    for (const auto& s : samples) ASSERT_GT(store->graphs()[s.graph].num_segments(), 1);
    const double gst_loss = step.loss(samples, 0, rng).item<double>();
    EXPECT_GT(step.counts().computed_missing, 0);
    const double fresh_loss = step.head_loss(samples).item<double>();
    EXPECT_NEAR(gst_loss, fresh_loss, 1e-5 * std::max(1.0, std::abs(fresh_loss)));

    // After the push every (graph, config, segment) of the samples is in the table (tile joined
    // at the head: one key per segment), written at step 0.
    step.push_fresh(0);
    int64_t expected = 0;
    for (const auto& s : samples) {
      const int64_t segs = store->graphs()[s.graph].num_segments();
      expected += model->configs_at_nodes() ? segs * 6 : segs;
    }
    EXPECT_EQ(table.stats().entries, expected);
    std::vector<HistoryKey> keys;
    for (const auto& s : samples)
      for (int64_t seg = 0; seg < store->graphs()[s.graph].num_segments(); ++seg)
        keys.push_back({s.graph, model->configs_at_nodes() ? s.configs[0] : -1, seg});
    std::vector<float> out(keys.size() * dim);
    std::vector<uint8_t> found;
    table.reset_stats();
    table.pull(keys, 3, out.data(), found);
    EXPECT_EQ(table.stats().hit_rate(), 1.0);
    EXPECT_DOUBLE_EQ(table.stats().mean_staleness, 3.0);
  }
}

// The second step reads what the first wrote: all stale entries hit, none is recomputed.
TEST_F(GstStepTest, SecondStepUsesTheTable) {
  CostModel model = model_for(*layout_);
  GstConfig cfg;
  cfg.configs_per_graph = 6;
  cfg.sed_p = 0.5;
  DistributedHistoryTable table(gst::testing::world(), model->embedding_dim());
  GstStep step(model, *layout_, &table, cfg, RankingLoss{}, torch::kCPU, 100000);
  auto rng = seeded_rng({2});
  auto samples = step.sample(all_train(*layout_), rng);
  step.loss(samples, 0, rng).backward();
  step.push_fresh(0);
  const int64_t computed = step.counts().computed_missing;
  table.reset_stats();
  step.loss(samples, 1, rng).backward();  // same graphs and configs
  EXPECT_EQ(step.counts().computed_missing, computed);
  EXPECT_DOUBLE_EQ(table.stats().hit_rate(), 1.0);
  EXPECT_DOUBLE_EQ(table.stats().mean_staleness, 1.0);
  EXPECT_GT(step.counts().dropped, 0);  // SED p = 0.5 dropped some
}

// missing=drop never computes: a first step sees only the trained segments.
TEST_F(GstStepTest, MissingDropComputesNothing) {
  CostModel model = model_for(*layout_);
  GstConfig cfg;
  cfg.configs_per_graph = 4;
  cfg.missing = MissingEntries::Drop;
  DistributedHistoryTable table(gst::testing::world(), model->embedding_dim());
  GstStep step(model, *layout_, &table, cfg, RankingLoss{}, torch::kCPU, 100000);
  auto rng = seeded_rng({3});
  auto samples = step.sample(all_train(*layout_), rng);
  auto loss = step.loss(samples, 0, rng);
  EXPECT_TRUE(std::isfinite(loss.item<double>()));
  EXPECT_EQ(step.counts().computed_missing, 0);
  EXPECT_EQ(step.counts().dropped, step.counts().stale_segments);
}

// The loss and gradients of part.back() when the graphs before it in `part` ran first in the
// same step, as on a rank whose slice of the batch holds them. Main phase: one prepare, then
// graph_loss; head stage: the earlier graphs' forward and backward passes, then the last one's.
std::vector<torch::Tensor> last_graph_result(CostModel model, const SegmentStore& store,
                                             const GstConfig& cfg,
                                             const std::vector<GraphSample>& part, bool head) {
  DistributedHistoryTable table(gst::testing::world(), model->embedding_dim());
  GstStep step(model, store, cfg.mode == GstMode::FullGraph ? nullptr : &table, cfg, RankingLoss{},
               torch::kCPU, 100000);
  auto step_rng = seeded_rng({6});
  torch::Tensor loss;
  if (head) {
    for (size_t j = 0; j + 1 < part.size(); ++j) step.head_graph_loss(part[j]).backward();
    model->zero_grad();
    loss = step.head_graph_loss(part.back());
  } else {
    model->zero_grad();
    step.prepare(part, 0, step_rng);
    loss = step.graph_loss(part.size() - 1);
  }
  loss.backward();
  std::vector<torch::Tensor> out = {loss.detach().clone()};
  for (const auto& p : model->parameters())
    out.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  return out;
}

bool bitwise_equal(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

// A graph's loss and gradients depend only on its own sample and table entries: the same graph
// prepared alone or after other graphs (as on a rank with a smaller slice of the batch) gives
// bitwise the same loss and gradients, in every mode and in the head stage.
TEST_F(GstStepTest, GraphLossDoesNotDependOnTheOtherGraphs) {
  struct Case {
    GstMode mode;
    bool head;
  };
  for (Case c : {Case{GstMode::Gst, false}, Case{GstMode::SegmentOnly, false},
                 Case{GstMode::FullGraph, false}, Case{GstMode::Gst, true}}) {
    SCOPED_TRACE(c.head ? "head" : to_string(c.mode));
    CostModel model = model_for(*layout_);
    GstConfig cfg;
    cfg.mode = c.mode;
    cfg.configs_per_graph = 4;
    cfg.sed_p = 0.5;
    std::vector<GraphSample> samples = sample_train(model, cfg);
    ASSERT_GT(samples.size(), 1u);
    for (size_t i = 0; i < samples.size(); ++i) samples[i].sed_seed = 100 + i;
    const std::vector<GraphSample> alone = {samples.back()};
    EXPECT_TRUE(bitwise_equal(last_graph_result(model, *layout_, cfg, alone, c.head),
                              last_graph_result(model, *layout_, cfg, samples, c.head)));
  }
}

// The check above can fail: without a seed of its own, a graph's SED masks come from the step's
// generator, which the graphs before it advance, so for some graph of the batch the loss or the
// gradients differ.
TEST_F(GstStepTest, GraphLossDependsOnTheOtherGraphsWithoutItsOwnSeed) {
  CostModel model = model_for(*layout_);
  GstConfig cfg;
  cfg.configs_per_graph = 4;
  cfg.sed_p = 0.5;
  std::vector<GraphSample> samples = sample_train(model, cfg);
  int differing = 0;
  for (size_t last = 0; last < samples.size(); ++last) {
    std::vector<GraphSample> others_first;
    for (size_t i = 0; i < samples.size(); ++i)
      if (i != last) others_first.push_back(samples[i]);
    others_first.push_back(samples[last]);
    const std::vector<GraphSample> alone = {samples[last]};
    differing += !bitwise_equal(last_graph_result(model, *layout_, cfg, alone, false),
                                last_graph_result(model, *layout_, cfg, others_first, false));
  }
  EXPECT_GT(differing, 0);
}

// Gradients reach the backbone through the trained segments only in gst mode, and the whole
// graph runs with gradients in full_graph mode; both give finite losses.
TEST_F(GstStepTest, ModesProduceGradients) {
  for (GstMode mode : {GstMode::Gst, GstMode::SegmentOnly, GstMode::FullGraph}) {
    SCOPED_TRACE(to_string(mode));
    CostModel model = model_for(*layout_);
    GstConfig cfg;
    cfg.mode = mode;
    cfg.configs_per_graph = 4;
    DistributedHistoryTable table(gst::testing::world(), model->embedding_dim());
    GstStep step(model, *layout_, mode == GstMode::Gst ? &table : nullptr, cfg,
                 RankingLoss{LossKind::ListMle}, torch::kCPU, 100000);
    auto rng = seeded_rng({4});
    auto samples = step.sample(all_train(*layout_), rng);
    if (mode == GstMode::FullGraph) {
      for (const auto& s : samples) EXPECT_TRUE(s.train_segments.empty());
    }
    auto loss = step.loss(samples, 0, rng);
    loss.backward();
    double grad_norm = 0;
    for (const auto& p : model->backbone_parameters())
      if (p.grad().defined()) grad_norm += p.grad().norm().item<double>();
    EXPECT_GT(grad_norm, 0);
    EXPECT_TRUE(std::isfinite(loss.item<double>()));
  }
}

TEST(RankingLoss, AddsTheWeightedExpectedSlowdownToTheRankingLoss) {
  torch::Tensor scores = torch::tensor({0.3, -0.2, 0.1, 1.0, 0.0, 0.5}).view({2, 3});
  torch::Tensor runtimes = torch::tensor({2.0, 1.0, 8.0, 3.0, 5.0, 4.0}).view({2, 3});
  torch::Tensor top = listmle_loss(scores, runtimes, {}, true);
  EXPECT_EQ(RankingLoss{LossKind::ListMleTop}(scores, runtimes).item<float>(), top.item<float>());
  const RankingLoss with_slowdown{LossKind::ListMleTop, 0.1, 2.0};
  EXPECT_NEAR(with_slowdown(scores, runtimes).item<double>(),
              (top + 2 * expected_slowdown_loss(scores, runtimes)).item<double>(), 1e-6);
  EXPECT_GT(expected_slowdown_loss(scores, runtimes).item<double>(), 0.1);
}

}  // namespace
