#include "model/cost_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>
#include <random>

#include "common/errors.h"
#include "model/segment_batch.h"
#include "random_segments.h"

namespace gst {
namespace {

using testing::random_segment;
using testing::RandomSegmentOptions;

struct EqualityCase {
  double share;
  int layers;
  bool message_passing;
  Norm norm;
  int projection;  // == hidden gives a residual in layer 0 too
};

std::ostream& operator<<(std::ostream& os, const EqualityCase& c) {
  return os << "share=" << c.share << " layers=" << c.layers << " mp=" << c.message_passing
            << " norm=" << to_string(c.norm) << " projection=" << c.projection;
}

// A model config of the given widths; the rest at the defaults.
ModelConfig small_config(int hidden, int projection, int head_hidden = ModelConfig{}.head_hidden) {
  ModelConfig config;
  config.hidden = hidden;
  config.projection = projection;
  config.head_hidden = head_hidden;
  return config;
}

CostModel make_model(const ModelConfig& config, Task task) {
  return CostModel(config, task, testing::unit_node_stats(), testing::unit_config_stats(task));
}

// Three segments of different sizes (as from different graphs), K configs each; one has no
// configurable node when share < 1.
std::vector<Segment> make_segments(std::mt19937_64& rng, double share, int64_t k, Task task) {
  std::vector<Segment> segments;
  for (int64_t nodes : {40, 23, 57}) {
    RandomSegmentOptions o;
    o.nodes = nodes;
    o.config_share = segments.size() == 1 && share < 1 ? 0.0 : share;
    o.configs = task == Task::Layout ? k : 0;
    segments.push_back(random_segment(rng, o));
  }
  return segments;
}

// Marks `columns` as size columns (whole numbers 0..2048) and gives every node of `segments` such
// values there.
void add_size_columns(ColumnStats& stats, std::vector<Segment>& segments, std::mt19937_64& rng,
                      std::initializer_list<int> columns) {
  std::uniform_int_distribution<int> size(0, 2048);
  for (int j : columns) {
    stats.min[j] = 0;
    stats.max[j] = 2048;
    stats.integer[j] = 1;
    for (Segment& s : segments)
      for (int64_t i = 0; i < s.num_nodes; ++i)
        s.node_feat[i * kNodeFeatureDim + j] = float(size(rng));
  }
}

SegmentBatch to_batch(const std::vector<Segment>& segments, Task task, int64_t k,
                      torch::Dtype dtype) {
  std::vector<const Segment*> ptrs;
  for (const Segment& s : segments) ptrs.push_back(&s);
  SegmentBatch batch = make_segment_batch(ptrs, task, k, torch::kCPU);
  batch.node_feat = batch.node_feat.to(dtype);
  if (batch.config_feat.defined()) batch.config_feat = batch.config_feat.to(dtype);
  return batch;
}

// Embeddings and parameter gradients of a fixed random linear function of them.
struct Result {
  torch::Tensor embeddings;
  std::vector<torch::Tensor> grads;
};

// Seeds the generator first, so that in training mode both paths draw the same dropout masks.
Result run(CostModel& model, const SegmentBatch& batch, bool shared, const torch::Tensor& probe) {
  model->zero_grad();
  torch::manual_seed(123);
  torch::Tensor emb =
      shared ? model->segment_embeddings(batch) : model->segment_embeddings_replicated(batch);
  (emb * probe).sum().backward();
  Result r{emb.detach(), {}};
  for (const torch::Tensor& p : model->parameters()) {
    r.grads.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  }
  return r;
}

double relative_diff(const torch::Tensor& a, const torch::Tensor& b) {
  const double scale = std::max(1.0, b.abs().max().item<double>());
  return (a - b).abs().max().item<double>() / scale;
}

// grad_tolerance: gradients of parameters that move a config's state and its no-config reference
// alike (norm biases) cancel in the size-weighted config effect, which leaves float residue.
void expect_shared_equals_replicated(CostModel& model, const SegmentBatch& batch, double tolerance,
                                     bool training = false, double grad_tolerance = 0) {
  if (grad_tolerance == 0) grad_tolerance = tolerance;
  model->train(training);
  const int64_t k = batch.num_configs;
  torch::Tensor probe =
      torch::randn({batch.num_segments, k, model->embedding_dim()}, batch.node_feat.options());
  Result shared = run(model, batch, true, probe);
  Result replicated = run(model, batch, false, probe);
  ASSERT_EQ(shared.embeddings.sizes(),
            torch::IntArrayRef({batch.num_segments, k, model->embedding_dim()}));
  ASSERT_EQ(shared.embeddings.sizes(), replicated.embeddings.sizes());
  EXPECT_LT(relative_diff(shared.embeddings, replicated.embeddings), tolerance);
  auto names = model->named_parameters();
  double largest_grad = 0;
  for (size_t i = 0; i < shared.grads.size(); ++i) {
    EXPECT_LT(relative_diff(shared.grads[i], replicated.grads[i]), grad_tolerance)
        << "gradient of " << names[i].key();
    largest_grad = std::max(largest_grad, replicated.grads[i].abs().max().item<double>());
  }
  EXPECT_GT(largest_grad, 0);  // the comparison saw real gradients
}

class SharedEqualsReplicated : public ::testing::TestWithParam<EqualityCase> {};

TEST_P(SharedEqualsReplicated, OutputsAndGradientsMatchInDouble) {
  const EqualityCase c = GetParam();
  torch::manual_seed(11);
  std::mt19937_64 rng(5 + c.layers);
  ModelConfig config;
  config.hidden = 16;
  config.projection = c.projection;
  config.layers = c.layers;
  config.head_hidden = 8;
  config.dropout = 0.3;  // eval mode must turn it off
  config.norm = c.norm;
  config.message_passing = c.message_passing;
  CostModel model = make_model(config, Task::Layout);
  model->to(torch::kFloat64);
  const int64_t k = 3;
  std::vector<Segment> segments = make_segments(rng, c.share, k, Task::Layout);
  SegmentBatch batch = to_batch(segments, Task::Layout, k, torch::kFloat64);
  expect_shared_equals_replicated(model, batch, 1e-10);
  // Dropout masks are per node, shared by the configs: the paths agree in training mode too.
  expect_shared_equals_replicated(model, batch, 1e-10, /*training=*/true);
}

INSTANTIATE_TEST_SUITE_P(Layout, SharedEqualsReplicated,
                         ::testing::Values(EqualityCase{0.1, 3, true, Norm::Layer, 8},
                                           EqualityCase{0.05, 2, true, Norm::Layer, 16},
                                           EqualityCase{0.3, 3, true, Norm::Layer, 16},
                                           EqualityCase{1.0, 2, true, Norm::None, 8},
                                           EqualityCase{0.0, 3, true, Norm::Layer, 8},
                                           EqualityCase{0.2, 1, true, Norm::None, 16},
                                           EqualityCase{0.2, 0, true, Norm::Layer, 8},
                                           EqualityCase{0.2, 5, true, Norm::Layer, 16},
                                           EqualityCase{0.2, 3, false, Norm::Layer, 8}));

TEST(CostModel, SharedEqualsReplicatedInFloat) {
  torch::manual_seed(3);
  std::mt19937_64 rng(3);
  ModelConfig config = small_config(32, 16);
  CostModel model = make_model(config, Task::Layout);
  const int64_t k = 5;
  std::vector<Segment> segments = make_segments(rng, 0.1, k, Task::Layout);
  expect_shared_equals_replicated(model, to_batch(segments, Task::Layout, k, torch::kFloat32), 2e-5,
                                  false, 1e-3);
}

// Without autograd each layer's per-config rows go through one fused pass (LayerRowsPost, fused
// onto the aggregation): the same embeddings as with autograd on, with and without LayerNorm,
// residual connections from the first layer (projection = hidden) or not, and in both precisions.
TEST(CostModel, InferencePassEqualsTheAutogradPath) {
  torch::manual_seed(3);
  std::mt19937_64 rng(3);
  const int64_t k = 5;
  for (Norm norm : {Norm::Layer, Norm::None}) {
    for (int projection : {16, 32}) {
      ModelConfig config = small_config(32, projection);
      config.norm = norm;
      CostModel model = make_model(config, Task::Layout);
      model->eval();
      SegmentBatch batch =
          to_batch(make_segments(rng, 0.3, k, Task::Layout), Task::Layout, k, torch::kFloat32);
      for (Precision precision : {Precision::Fp32, Precision::Bf16}) {
        model->set_precision(precision);
        const torch::Tensor with_autograd = model->segment_embeddings(batch).detach();
        torch::NoGradGuard no_grad;
        EXPECT_LT(relative_diff(model->segment_embeddings(batch), with_autograd), 2e-5)
            << "projection " << projection << " norm " << (norm == Norm::Layer) << " precision "
            << to_string(precision);
      }
    }
  }
}

// bf16 matrix products: the same model in fp32 gives nearly the same embeddings and gradients
// (each product's inputs rounded to 8 mantissa bits), outputs and gradients stay fp32, and
// the shared and replicated paths still agree (each with its own roundings).
TEST(CostModel, Bf16ProductsStayCloseToFp32) {
  torch::manual_seed(3);
  std::mt19937_64 rng(3);
  ModelConfig config = small_config(32, 16);
  CostModel model = make_model(config, Task::Layout);
  const int64_t k = 5;
  std::vector<Segment> segments = make_segments(rng, 0.3, k, Task::Layout);
  SegmentBatch batch = to_batch(segments, Task::Layout, k, torch::kFloat32);
  torch::Tensor probe = torch::randn({batch.num_segments, k, model->embedding_dim()});
  for (bool training : {false, true}) {
    model->train(training);
    const Result fp32 = run(model, batch, true, probe);
    model->set_precision(Precision::Bf16);
    const Result bf16 = run(model, batch, true, probe);
    const Result bf16_replicated = run(model, batch, false, probe);
    model->set_precision(Precision::Fp32);
    EXPECT_EQ(bf16.embeddings.scalar_type(), torch::kFloat32);
    EXPECT_LT(relative_diff(bf16.embeddings, fp32.embeddings), 3e-2);
    EXPECT_GT(relative_diff(bf16.embeddings, fp32.embeddings), 0);  // bf16 did run
    EXPECT_LT(relative_diff(bf16_replicated.embeddings, bf16.embeddings), 3e-2);
    // Gradients as a whole (single entries of near-cancelling sums can differ more); bf16's 8-bit
    // mantissa leaves 0.02-0.04 on this random model.
    double diff = 0, norm = 0;
    for (size_t i = 0; i < fp32.grads.size(); ++i) {
      EXPECT_EQ(bf16.grads[i].scalar_type(), torch::kFloat32);
      diff += (bf16.grads[i] - fp32.grads[i]).pow(2).sum().item<double>();
      norm += fp32.grads[i].pow(2).sum().item<double>();
    }
    EXPECT_LT(std::sqrt(diff / norm), 5e-2) << "training " << training;
  }
}

TEST(CostModel, TileSharedEqualsReplicatedAndHeadUsesConfig) {
  torch::manual_seed(4);
  std::mt19937_64 rng(4);
  ModelConfig config = small_config(16, 8, 8);
  config.tile_join = TileJoin::Late;
  CostModel model = make_model(config, Task::Tile);
  model->to(torch::kFloat64);
  std::vector<Segment> segments = make_segments(rng, 0, 1, Task::Tile);
  SegmentBatch batch = to_batch(segments, Task::Tile, 7, torch::kFloat64);
  EXPECT_EQ(batch.num_configs, 1);
  EXPECT_FALSE(batch.config_nodes.defined());
  expect_shared_equals_replicated(model, batch, 1e-10);

  // Graph embedding of 3 kernels, each scored under 6 tile configs.
  torch::Tensor emb = model->segment_embeddings(batch).expand({-1, 6, -1});
  torch::Tensor tile = torch::randint(1, 512, {3, 6, kTileConfigDim}, torch::kFloat64);
  torch::Tensor scores = model->head(emb, tile);
  ASSERT_EQ(scores.sizes(), torch::IntArrayRef({3, 6}));
  EXPECT_GT(scores.std().item<double>(), 0);  // configs of one kernel are told apart
  EXPECT_THROW(model->head(emb, torch::Tensor()), Error);
}

TEST(CostModel, TileConfigsAtTheNodesShareWorkExactly) {
  torch::manual_seed(6);
  std::mt19937_64 rng(6);
  ModelConfig config = small_config(16, 8, 8);
  ASSERT_EQ(config.tile_join, TileJoin::Early);
  // Node columns 1 and 2 and tile columns 0..2 hold sizes: every node compares them (tile fit),
  // and the readout weighs node costs by the node ones (column pooling).
  ColumnStats node_stats = testing::unit_node_stats();
  ColumnStats tile_stats = testing::unit_config_stats(Task::Tile);
  std::vector<Segment> segments = make_segments(rng, 0, 1, Task::Tile);
  std::vector<Segment> no_segments;
  add_size_columns(node_stats, segments, rng, {1, 2});
  add_size_columns(tile_stats, no_segments, rng, {0, 1, 2});
  CostModel model(config, Task::Tile, node_stats, tile_stats);
  model->to(torch::kFloat64);
  ASSERT_TRUE(model->configs_at_nodes());
  // Each kernel (segment) its own 4 tile configs; the batch broadcasts them to its nodes.
  const int64_t k = 4;
  std::vector<std::vector<float>> rows(segments.size());
  std::vector<const float*> tile_feat;
  std::uniform_int_distribution<int> log_size(0, 9);
  for (auto& r : rows) {
    for (int64_t i = 0; i < k * kTileConfigDim; ++i) r.push_back(float(1 << log_size(rng)));
    tile_feat.push_back(r.data());
  }
  std::vector<const Segment*> ptrs;
  for (const Segment& s : segments) ptrs.push_back(&s);
  SegmentBatch batch = make_segment_batch(ptrs, Task::Tile, k, torch::kCPU, tile_feat);
  ASSERT_EQ(batch.num_configs, k);
  ASSERT_EQ(batch.config_nodes.numel(), batch.segment_offsets.back());
  EXPECT_EQ(batch.config_feat[2][batch.segment_offsets[1]][5].item<float>(),
            rows[1][2 * kTileConfigDim + 5]);  // node 0 of kernel 1 holds its config 2
  batch.node_feat = batch.node_feat.to(torch::kFloat64);
  batch.config_feat = batch.config_feat.to(torch::kFloat64);
  expect_shared_equals_replicated(model, batch, 1e-10);
  expect_shared_equals_replicated(model, batch, 1e-10, /*training=*/true);

  model->eval();
  torch::Tensor emb = model->segment_embeddings(batch);  // [3, K, D]
  EXPECT_GT((emb.select(1, 0) - emb.select(1, 1)).abs().max().item<double>(), 0);
  // A batch without the configs at its nodes is refused, not embedded as if config-free.
  SegmentBatch late = make_segment_batch(ptrs, Task::Tile, k, torch::kCPU);
  late.node_feat = late.node_feat.to(torch::kFloat64);
  EXPECT_THROW(model->segment_embeddings(late), Error);
}

TEST(CostModel, LayoutScoresDependOnConfigsOnlyThroughTheirFeatures) {
  torch::manual_seed(6);
  std::mt19937_64 rng(6);
  ModelConfig config = small_config(16, 8);
  CostModel model = make_model(config, Task::Layout);
  model->eval();
  std::vector<Segment> segments = make_segments(rng, 0.2, 3, Task::Layout);
  SegmentBatch batch = to_batch(segments, Task::Layout, 3, torch::kFloat32);
  // Config 2 repeats config 0's features.
  batch.config_feat[2] = batch.config_feat[0];
  torch::Tensor emb = model->segment_embeddings(batch);  // [3, 3, D]
  torch::Tensor scores = model->head(emb, {});           // segments as graphs: [3, 3]
  // Equal up to float rounding: the matrix products of a config's rows may round differently at
  // other row positions (entries near zero in the config-effect sums differ by ~1e-7).
  EXPECT_TRUE(torch::allclose(emb.select(1, 0), emb.select(1, 2), 1e-5, 1e-6));
  EXPECT_FALSE(torch::allclose(emb[0][0], emb[0][1]));
  EXPECT_TRUE(torch::allclose(emb[1][0], emb[1][1]));  // segment 1 has no configurable node
  EXPECT_EQ(scores.sizes(), torch::IntArrayRef({3, 3}));
}

TEST(CostModel, ConstantFeatureColumnsAreDropped) {
  torch::manual_seed(7);
  std::mt19937_64 rng(7);
  ModelConfig config = small_config(8, 8);
  CostModel model = make_model(config, Task::Layout);  // column 7 has std 0
  model->eval();
  std::vector<Segment> segments = make_segments(rng, 0.2, 2, Task::Layout);
  SegmentBatch batch = to_batch(segments, Task::Layout, 2, torch::kFloat32);
  torch::Tensor before = model->segment_embeddings(batch);
  batch.node_feat.select(1, 7).uniform_(-1e6, 1e6);
  EXPECT_TRUE(torch::equal(before, model->segment_embeddings(batch)));
  batch.node_feat.select(1, 8).add_(1);
  EXPECT_FALSE(torch::allclose(before, model->segment_embeddings(batch)));
}

TEST(CostModel, WithoutMessagePassingEdgesDoNotMatter) {
  torch::manual_seed(8);
  std::mt19937_64 rng(8);
  ModelConfig config = small_config(8, 8);
  config.message_passing = false;
  CostModel model = make_model(config, Task::Layout);
  model->eval();
  std::vector<Segment> segments = make_segments(rng, 0.2, 2, Task::Layout);
  SegmentBatch batch = to_batch(segments, Task::Layout, 2, torch::kFloat32);
  torch::Tensor before = model->segment_embeddings(batch);
  batch.edges = batch.edges.flip({1});                           // same edges reversed in order...
  batch.edges = torch::stack({batch.edges[1], batch.edges[0]});  // ...and direction
  batch.config_edges = batch.config_edges.flip({0});
  EXPECT_TRUE(torch::allclose(before, model->segment_embeddings(batch)));

  config.message_passing = true;  // and with message passing they do
  CostModel sage = make_model(config, Task::Layout);
  sage->eval();
  torch::Tensor reversed = sage->segment_embeddings(batch);
  batch.edges = torch::stack({batch.edges[1], batch.edges[0]});
  EXPECT_FALSE(torch::allclose(reversed, sage->segment_embeddings(batch)));
}

TEST(CostModel, ParametersSplitIntoBackboneAndHead) {
  ModelConfig config = small_config(8, 8);
  CostModel model = make_model(config, Task::Layout);
  auto backbone = model->backbone_parameters();
  auto head = model->head_parameters();
  EXPECT_FALSE(backbone.empty());
  EXPECT_FALSE(head.empty());
  EXPECT_EQ(backbone.size() + head.size(), model->parameters().size());
  for (const auto& h : head) {
    for (const auto& b : backbone) EXPECT_FALSE(h.is_same(b));
  }
  EXPECT_EQ(model->embedding_dim(), 25);  // mean, max, size-weighted sum and total weight
  config.size_pooling = false;
  EXPECT_EQ(make_model(config, Task::Layout)->embedding_dim(), 16);
}

// With the MLP's output zeroed, a layout score is the additive term alone: v . (weighted sum of
// the config effect) / (total weight), so it ignores the graph's scale.
TEST(CostModel, AdditiveTermIsTheWeightedMeanOfALinearNodeCost) {
  ModelConfig config = small_config(4, 4);
  CostModel model = make_model(config, Task::Layout);
  torch::NoGradGuard no_grad;
  auto params = model->named_parameters();
  params["head_out.weight"].zero_();
  params["head_sum.weight"].copy_(torch::tensor({{1.0f, -2.0f, 0.5f, 3.0f}}));
  // [G=1, K=2, 2H + H + 1]: mean/max parts (ignored here), weighted sums, total weight.
  torch::Tensor emb = torch::zeros({1, 2, 13});
  emb.index_put_({0, 0, torch::indexing::Slice(8, 12)}, torch::tensor({4.0f, 1.0f, 2.0f, 0.0f}));
  emb.index_put_({0, 1, torch::indexing::Slice(8, 12)}, torch::tensor({0.0f, 0.0f, 0.0f, 2.0f}));
  emb.index_put_({0, torch::indexing::Slice(), 12}, 2.0f);
  torch::Tensor scores = model->head(emb, {});
  EXPECT_NEAR(scores[0][0].item<float>(), (4 - 2 + 1) / 2.0, 1e-5);
  EXPECT_NEAR(scores[0][1].item<float>(), 6 / 2.0, 1e-5);
  emb.narrow(2, 8, 5).mul_(1000);  // a graph of 1000x the weights: the same scores
  scores = model->head(emb, {});
  EXPECT_NEAR(scores[0][0].item<float>(), 1.5, 1e-4);
  EXPECT_NEAR(scores[0][1].item<float>(), 3.0, 1e-4);
}

// The operand copy term, against a sum written out edge by edge: each edge into a configurable
// node adds g(s W f) of its OperandCopy flags f (s: model.cost_map_scale), times its producer's
// column weights, to the cost sums of its segment (after the 3H + 1 pooled values); nothing else
// changes.
void expect_copy_costs(CostModel& model, const ColumnStats& node_stats, const SegmentBatch& batch,
                       NodeCost form, int64_t s) {
  torch::NoGradGuard no_grad;
  torch::Tensor weight = model->named_parameters()["pool_copy.weight"];  // [C, F]
  torch::Tensor with = model->segment_embeddings(batch);
  torch::Tensor saved = weight.clone();
  weight.zero_();
  torch::Tensor diff = with - model->segment_embeddings(batch);
  weight.copy_(saved);
  const int64_t c = weight.size(0), at = 3 * model->config().hidden + 1;
  OperandCopy::Edges e = OperandCopy(node_stats, testing::unit_config_stats(Task::Layout))
                             .encode(batch.config_feat, batch.node_feat, batch.config_nodes,
                                     batch.edges, batch.operand_index);
  torch::Tensor x =
      torch::matmul(e.flags, weight.t()) * model->config().cost_map_scale;  // [K, P, C]
  torch::Tensor cost = form == NodeCost::Exp ? torch::where(x > 0, torch::expm1(x), x) : x;
  torch::Tensor columns = model->column_weights(batch);
  torch::Tensor expected = torch::zeros_like(diff);
  for (int64_t p = 0; p < e.rows.size(0); ++p) {
    const int64_t edge = e.rows[p].item<int64_t>();
    const int64_t u = batch.edges[0][edge].item<int64_t>(),
                  v = batch.edges[1][edge].item<int64_t>();
    const int64_t b = batch.node_segment[v].item<int64_t>();
    torch::Tensor term = cost.select(1, p).unsqueeze(2) * columns[u].view({1, 1, s});  // [K, C, S]
    expected[b].narrow(1, at, c * s) += term.reshape({-1, c * s});
  }
  ASSERT_GT(e.rows.size(0), 0);
  EXPECT_GT(expected.abs().max().item<double>(), 1e-3);
  EXPECT_TRUE(torch::allclose(diff, expected, 1e-9, 1e-9));
}

// Three layout segments of 3 configs (a `share` of configurable nodes) whose node columns 1, 2 and
// 4 are size columns, as a double batch: the input of column pooling and its cost maps.
struct SizedLayout {
  ColumnStats node_stats = testing::unit_node_stats();
  std::vector<Segment> segments;
  SegmentBatch batch;
};
SizedLayout sized_layout(uint64_t seed, double share) {
  torch::manual_seed(seed);
  std::mt19937_64 rng(seed);
  SizedLayout out;
  out.segments = make_segments(rng, share, 3, Task::Layout);
  add_size_columns(out.node_stats, out.segments, rng, {1, 2, 4});
  out.batch = to_batch(out.segments, Task::Layout, 3, torch::kFloat64);
  return out;
}

TEST(CostModel, ColumnPoolingSharesWorkExactly) {
  const SizedLayout data = sized_layout(8, 0.2);
  const ColumnStats& node_stats = data.node_stats;
  const std::vector<Segment>& segments = data.segments;
  const SegmentBatch& batch = data.batch;
  ModelConfig config = small_config(16, 8, 8);
  for (NodeCost form : {NodeCost::Exp, NodeCost::Linear}) {
    for (int channels : {1, 3}) {
      for (bool operands : {false, true}) {
        config.node_cost = form;
        config.cost_channels = channels;
        config.operand_sizes = operands;
        config.direct_costs = channels > 1;
        CostModel model(config, Task::Layout, node_stats, testing::unit_config_stats(Task::Layout));
        model->to(torch::kFloat64);
        if (config.direct_costs) {  // they start at zero, which would hide a misplaced row
          torch::NoGradGuard no_grad;
          model->named_parameters()["pool_direct.weight"].uniform_(-0.3, 0.3);
          model->named_parameters()["pool_copy.weight"].uniform_(-0.3, 0.3);
        }
        // 3H + 1, then each channel's cost sums with the three columns (and their sums over the
        // producers), and the column totals.
        const int64_t s = operands ? 6 : 3;
        ASSERT_EQ(model->embedding_dim(), 3 * 16 + 1 + (channels + 1) * s);
        expect_shared_equals_replicated(model, batch, 1e-10);
        expect_shared_equals_replicated(model, batch, 1e-10, /*training=*/true);
        // Segment 1 has no configurable node: alone, it takes the path without config effects.
        model->eval();
        torch::Tensor alone =
            model->segment_embeddings(to_batch({segments[1]}, Task::Layout, 3, torch::kFloat64));
        ASSERT_EQ(alone.size(2), model->embedding_dim());
        EXPECT_TRUE(torch::allclose(alone[0], model->segment_embeddings(batch)[1], 1e-10, 1e-10));
        if (config.direct_costs) {  // the direct term reaches the cost sums
          torch::NoGradGuard no_grad;
          torch::Tensor with = model->segment_embeddings(batch);
          model->named_parameters()["pool_direct.weight"].zero_();
          torch::Tensor without = model->segment_embeddings(batch);
          EXPECT_FALSE(torch::allclose(with, without, 1e-6, 1e-6));
          expect_copy_costs(model, node_stats, batch, form, s);
        }
      }
    }
  }
  config.column_pooling = false;
  EXPECT_EQ(CostModel(config, Task::Layout, node_stats, testing::unit_config_stats(Task::Layout))
                ->embedding_dim(),
            3 * 16 + 1);
}

// model.cost_map_scale multiplies the direct and copy maps' outputs: a model with scale 4 and those
// weights divided by 4 is the same model, on the shared and the replicated path.
TEST(CostModel, CostMapScaleMultipliesTheDirectAndCopyMaps) {
  const SizedLayout data = sized_layout(9, 0.3);
  const ColumnStats& node_stats = data.node_stats;
  const SegmentBatch& batch = data.batch;
  ModelConfig config = small_config(16, 8, 8);
  config.cost_channels = 3;
  auto build = [&](double scale) {
    config.cost_map_scale = scale;
    CostModel model(config, Task::Layout, node_stats, testing::unit_config_stats(Task::Layout));
    model->to(torch::kFloat64);
    model->eval();
    return model;
  };
  CostModel one = build(1), four = build(4);
  torch::NoGradGuard no_grad;
  one->named_parameters()["pool_direct.weight"].uniform_(-0.3, 0.3);
  one->named_parameters()["pool_copy.weight"].uniform_(-0.3, 0.3);
  for (const auto& p : one->named_parameters()) {
    const bool scaled = p.key() == "pool_direct.weight" || p.key() == "pool_copy.weight";
    four->named_parameters()[p.key()].copy_(scaled ? p.value() / 4 : p.value());
  }
  EXPECT_TRUE(torch::allclose(one->segment_embeddings(batch), four->segment_embeddings(batch),
                              1e-12, 1e-12));
  EXPECT_TRUE(torch::allclose(one->segment_embeddings_replicated(batch),
                              four->segment_embeddings_replicated(batch), 1e-12, 1e-12));
  // Unscaled weights under scale 4 give other costs: the scale is applied on both paths.
  four->named_parameters()["pool_direct.weight"].mul_(4);
  EXPECT_FALSE(
      torch::allclose(one->segment_embeddings(batch), four->segment_embeddings(batch), 1e-6, 1e-6));
  four->named_parameters()["pool_direct.weight"].div_(4);
  four->named_parameters()["pool_copy.weight"].mul_(4);
  EXPECT_FALSE(torch::allclose(one->segment_embeddings_replicated(batch),
                               four->segment_embeddings_replicated(batch), 1e-6, 1e-6));
}

TEST(CostModel, ColumnPoolingMixesCostMeansWeightedByEachColumn) {
  std::mt19937_64 rng(4);
  ColumnStats node_stats = testing::unit_node_stats();
  std::vector<Segment> none;
  add_size_columns(node_stats, none, rng, {1, 2});
  ModelConfig config = small_config(4, 4);
  config.cost_channels = 2;
  CostModel model(config, Task::Layout, node_stats, testing::unit_config_stats(Task::Layout));
  torch::NoGradGuard no_grad;
  auto params = model->named_parameters();
  params["head_out.weight"].zero_();
  params["head_columns.weight"].copy_(torch::tensor({{2.0f, -1.0f, 0.5f, 3.0f}}));
  // [G=1, K=2, 3H + 1 = 13 (ignored here), channel 0's and channel 1's cost sums with columns 1
  // and 2, the column totals].
  torch::Tensor emb = torch::zeros({1, 2, 19});
  emb.index_put_({0, 0, torch::indexing::Slice(13, 17)}, torch::tensor({8.0f, 3.0f, 4.0f, 0.0f}));
  emb.index_put_({0, 1, torch::indexing::Slice(13, 17)}, torch::tensor({-4.0f, 6.0f, 0.0f, 9.0f}));
  emb.index_put_({0, torch::indexing::Slice(), torch::indexing::Slice(17, 19)},
                 torch::tensor({4.0f, 3.0f}));
  torch::Tensor scores = model->head(emb, {});
  EXPECT_NEAR(scores[0][0].item<float>(), 2 * 8 / 4.0 - 3 / 3.0 + 0.5 * 4 / 4.0, 1e-5);
  EXPECT_NEAR(scores[0][1].item<float>(), 2 * -4 / 4.0 - 6 / 3.0 + 3 * 9 / 3.0, 1e-5);
}

TEST(CostModel, ColumnWeightsAddTheSizesOfEachNodesProducers) {
  ColumnStats node_stats = testing::unit_node_stats();
  std::mt19937_64 rng(5);
  std::vector<Segment> none;
  add_size_columns(node_stats, none, rng, {3});
  Segment s;
  s.num_nodes = 4;
  s.node_feat.assign(4 * kNodeFeatureDim, 0.0f);
  for (int i = 0; i < 4; ++i)
    s.node_feat[i * kNodeFeatureDim + 3] = float(std::vector{5, 7, 11, 13}[i]);
  s.node_opcode.assign(4, 1);
  s.edges = {0, 2, 1, 2, 2, 3};  // 0 -> 2, 1 -> 2, 2 -> 3
  SegmentBatch batch = to_batch({s}, Task::Layout, 1, torch::kFloat32);
  ModelConfig config = small_config(4, 4);
  config.operand_sizes = true;
  CostModel model(config, Task::Layout, node_stats, testing::unit_config_stats(Task::Layout));
  EXPECT_TRUE(
      torch::equal(model->column_weights(batch),
                   torch::tensor({{5.0f, 0.0f}, {7.0f, 0.0f}, {11.0f, 12.0f}, {13.0f, 11.0f}})));
  config.operand_sizes = false;
  CostModel own(config, Task::Layout, node_stats, testing::unit_config_stats(Task::Layout));
  EXPECT_TRUE(
      torch::equal(own->column_weights(batch), torch::tensor({{5.0f}, {7.0f}, {11.0f}, {13.0f}})));
  config.operand_sizes = true;
  config.message_passing = false;  // the structure-blind baseline sees no producer
  EXPECT_EQ(CostModel(config, Task::Layout, node_stats, testing::unit_config_stats(Task::Layout))
                ->weight_columns(),
            1);
}

TEST(CostModel, TrainingModeRunsWithDropoutAndGivesFiniteGradients) {
  torch::manual_seed(9);
  std::mt19937_64 rng(9);
  ModelConfig config = small_config(16, 8);
  config.dropout = 0.5;
  CostModel model = make_model(config, Task::Layout);
  model->train();
  std::vector<Segment> segments = make_segments(rng, 0.2, 4, Task::Layout);
  SegmentBatch batch = to_batch(segments, Task::Layout, 4, torch::kFloat32);
  torch::Tensor a = model->segment_embeddings(batch);
  torch::Tensor b = model->segment_embeddings(batch);
  EXPECT_FALSE(torch::allclose(a, b));  // dropout is active
  model->head(a, {}).sum().backward();
  for (const auto& p : model->parameters()) {
    if (p.grad().defined()) EXPECT_TRUE(torch::isfinite(p.grad()).all().item<bool>());
  }
}

TEST(CostModel, RejectsBadStatistics) {
  ModelConfig config;
  ColumnStats ten;
  ten.mean = ten.std = ten.min = ten.max = std::vector<float>(10);
  ten.integer.assign(10, 0);
  EXPECT_THROW(CostModel(config, Task::Layout, ten, ColumnStats{}), Error);
  EXPECT_THROW(CostModel(config, Task::Layout, testing::unit_node_stats(), ten), Error);
}

}  // namespace
}  // namespace gst
