// One-hot coded columns and config/node equality: which columns they pick and what they encode.
#include "model/column_encoding.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace gst {
namespace {

ColumnStats stats(std::vector<float> min, std::vector<float> max, std::vector<uint8_t> integer,
                  std::vector<float> std) {
  ColumnStats c;
  c.mean.assign(min.size(), 0.0f);
  c.std = std;
  c.min = min;
  c.max = max;
  c.integer = integer;
  return c;
}

// A random layout batch whose config values often meet the layouts the nodes hold: N nodes with
// a rank, held layout runs in columns 1-3 and 7-8 (values -1..3) and shape dims in 4-6 (0..299);
// M of them configurable (18 config columns, values -1..3); E random edges and their operand
// ranks.
struct RandomLayoutBatch {
  ColumnStats node, config;
  torch::Tensor config_feat, node_feat, config_nodes, edges, operand;
};

RandomLayoutBatch random_layout_batch(int64_t k, int64_t n, int64_t m, int64_t e, uint64_t seed) {
  torch::manual_seed(seed);
  RandomLayoutBatch b;
  b.node = stats({1, -1, -1, -1, 0, 0, 0, -1, -1}, {4, 3, 3, 3, 299, 299, 299, 3, 3},
                 std::vector<uint8_t>(9, 1), std::vector<float>(9, 1));
  b.config =
      stats(std::vector<float>(kLayoutConfigDim, -1), std::vector<float>(kLayoutConfigDim, 3),
            std::vector<uint8_t>(kLayoutConfigDim, 1), std::vector<float>(kLayoutConfigDim, 1));
  b.node_feat = torch::randint(-1, 4, {n, 9}).to(torch::kFloat);
  b.node_feat.narrow(1, 4, 3).random_(0, 300);
  b.config_feat = torch::randint(-1, 4, {k, m, kLayoutConfigDim}).to(torch::kFloat);
  b.config_nodes = torch::randperm(n, torch::kInt64).narrow(0, 0, m);
  b.edges = torch::randint(0, n, {2, e}, torch::kInt64);
  std::vector<int64_t> seen(n, 0), rank;
  for (int64_t i = 0; i < e; ++i) rank.push_back(seen[b.edges[1][i].item<int64_t>()]++);
  b.operand = torch::tensor(rank, torch::kInt64);
  return b;
}

TEST(OneHotColumns, PicksSmallWholeNumberColumnsAndCodesUnseenValues) {
  // Columns: coded -1..2; measured; constant; whole numbers too large; coded 0..1.
  ColumnStats c = stats({-1, 0, 3, 0, 0}, {2, 9, 3, 5000, 1}, {1, 0, 1, 1, 1}, {1, 1, 0, 1, 1});
  OneHotColumns h(c);
  EXPECT_EQ(h.columns(), (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(h.width(), (4 + 1) + (2 + 1));
  torch::Tensor x = torch::tensor({-1.0f, 7.5f, 3.0f, 12.0f, 1.0f, 2.0f, 0.0f, 3.0f, 1.0f, 0.0f,
                                   5.0f, 0.0f, 3.0f, 1.0f, 0.5f})
                        .view({3, 5});
  torch::Tensor e = h.encode(x);
  ASSERT_EQ(e.sizes(), (std::vector<int64_t>{3, 8}));
  // Row 0: -1 -> slot 0 of column 0; 1 -> slot 1 of column 4 (offset 5).
  EXPECT_TRUE(e[0].equal(torch::tensor(std::vector<float>{1, 0, 0, 0, 0, 0, 1, 0})));
  EXPECT_TRUE(e[1].equal(torch::tensor(std::vector<float>{0, 0, 0, 1, 0, 1, 0, 0})));
  // Unseen 5 and the fraction 0.5 go to each column's "other" slot.
  EXPECT_TRUE(e[2].equal(torch::tensor(std::vector<float>{0, 0, 0, 0, 1, 0, 0, 1})));
  // Any leading shape: [2, 3, C] -> [2, 3, width].
  EXPECT_EQ(h.encode(x.unsqueeze(0).expand({2, 3, 5})).sizes(), (std::vector<int64_t>{2, 3, 8}));
}

TEST(ConfigMatch, ComparesLiveSlotsWithLayoutLikeNodeColumns) {
  // Config: slot 0 varies in -1..3, slot 1 constant. Node: column 0 coded -1..3 (a layout),
  // column 1 a 0/1 flag (not compared), column 2 measured.
  ColumnStats config = stats({-1, -1}, {3, -1}, {1, 1}, {1, 0});
  ColumnStats node = stats({-1, 0, 0}, {3, 1, 9}, {1, 1, 0}, {1, 1, 1});
  ConfigMatch match(node, config);
  ASSERT_EQ(match.width(), 1);
  // K = 2 configs of M = 3 nodes.
  torch::Tensor cfg =
      torch::tensor(std::vector<float>{2, -1, -1, -1, -1, -1, 3, -1, 1, -1, 2, -1}).view({2, 3, 2});
  torch::Tensor feat = torch::tensor(std::vector<float>{2, 1, 0, 1, 0, 5, -1, 0, 0}).view({3, 3});
  torch::Tensor e = match.encode(cfg, feat);
  ASSERT_EQ(e.sizes(), (std::vector<int64_t>{2, 3, 1}));
  // Config 0: node 0 keeps its 2 (a match); nodes 1 and 2 are left absent (-1), which matches
  // nothing, not even node 2's own -1. Config 1: only node 1 keeps its own value.
  EXPECT_TRUE(e[0].view({3}).equal(torch::tensor(std::vector<float>{1, 0, 0})));
  EXPECT_TRUE(e[1].view({3}).equal(torch::tensor(std::vector<float>{0, 1, 0})));
  EXPECT_EQ(ConfigMatch(node, ColumnStats{}).width(), 0);
}

TEST(NeighbourMatch, CountsEdgesWhoseLayoutBlocksDiffer) {
  // Blocks 0 and 1 (slots 0-11) vary, block 2 is constant: 2 x 2 block pairs, width 4 x 4.
  std::vector<float> sd(kLayoutConfigDim, 1);
  std::fill(sd.begin() + 12, sd.end(), 0);
  ColumnStats config =
      stats(std::vector<float>(kLayoutConfigDim, -1), std::vector<float>(kLayoutConfigDim, 3),
            std::vector<uint8_t>(kLayoutConfigDim, 1), sd);
  NeighbourMatch match(config);
  ASSERT_EQ(match.width(), 16);
  // One config of three nodes; each node's blocks 0 and 1 (the rest of a row is -1).
  const std::vector<std::vector<float>> blocks = {{0, 1}, {0, 1},    {1, 0},
                                                  {0, 1}, {0, 2, 1}, {1, 0}};
  torch::Tensor cfg = torch::full({1, 3, kLayoutConfigDim}, -1.0f);
  for (int b = 0; b < 6; ++b) {
    for (size_t d = 0; d < blocks[b].size(); ++d) cfg[0][b / 2][(b % 2) * 6 + d] = blocks[b][d];
  }
  torch::Tensor edges = torch::tensor({0, 0, 1, 1, 2, 2}, torch::kInt64).view({2, 3});
  torch::Tensor e = match.encode(cfg, edges);
  ASSERT_EQ(e.sizes(), (std::vector<int64_t>{1, 3, 16}));
  // Per node: log(1 + count) of out-edges then in-edges, each [blocks differ, minor dims differ]
  // over the pairs (source block, target block) = (0, 0), (0, 1), (1, 0), (1, 1). Node 2's block 0
  // (0, 2, 1) differs from node 0's (0, 1) with the same minor dim.
  auto row = [](std::vector<float> v) { return torch::log1p(torch::tensor(v)); };
  EXPECT_TRUE(e[0][0].allclose(row({2, 1, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0})));
  EXPECT_TRUE(e[0][1].allclose(row({1, 0, 1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0})));
  EXPECT_TRUE(e[0][2].allclose(row({0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 2, 2, 1, 1, 0, 2})));
  EXPECT_TRUE(match.encode(cfg, torch::zeros({2, 0}, torch::kInt64)).eq(0).all().item<bool>());
  EXPECT_EQ(NeighbourMatch(ColumnStats{}).width(), 0);
}

TEST(LayoutAgreement, ComparesConfigLayoutsWithTheLayoutsNodesAndNeighboursHold) {
  // Node: a rank (past the highest config value), a layout run in columns 1-3, a size, a lone
  // coded column (no run). Config: block 0 varies, blocks 1 and 2 are constant.
  ColumnStats node =
      stats({1, -1, -1, -1, 0, -1}, {4, 3, 3, 3, 5000, 3}, {1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1});
  std::vector<float> sd(kLayoutConfigDim, 0);
  std::fill(sd.begin(), sd.begin() + 6, 1);
  ColumnStats config =
      stats(std::vector<float>(kLayoutConfigDim, -1), std::vector<float>(kLayoutConfigDim, 3),
            std::vector<uint8_t>(kLayoutConfigDim, 1), sd);
  LayoutAgreement agreement(node, config);
  ASSERT_EQ(agreement.width(), 6);
  // Nodes 1 and 3 are configurable; edges 0 -> 1, 2 -> 1, 1 -> 3, 3 -> 2.
  const std::vector<std::vector<float>> held = {{1, 0, -1}, {0, 1, -1}, {2, 0, 1}, {2, 1, 0}};
  torch::Tensor feat = torch::zeros({4, 6});
  for (int n = 0; n < 4; ++n) feat[n].narrow(0, 1, 3).copy_(torch::tensor(held[n]));
  torch::Tensor config_nodes = torch::tensor({1, 3}, torch::kInt64);
  torch::Tensor edges = torch::tensor({0, 2, 1, 3, 1, 1, 3, 2}, torch::kInt64).view({2, 4});
  // Config 0: node 1 takes (1, 0), node 3 (2, 0, 1); config 1 leaves node 1 unset (-1).
  torch::Tensor cfg = torch::full({2, 2, kLayoutConfigDim}, -1.0f);
  cfg[0][0].narrow(0, 0, 2).copy_(torch::tensor({1.0f, 0.0f}));
  cfg.select(1, 1).narrow(1, 0, 3).copy_(torch::tensor({2.0f, 0.0f, 1.0f}).expand({2, 3}));
  torch::Tensor e = agreement.encode(cfg, feat, config_nodes, edges);
  ASSERT_EQ(e.sizes(), (std::vector<int64_t>{2, 2, 6}));
  // Per node: [equal, minor-most equal] at the node itself, then log(1 + count) over in-edges
  // and over out-edges. Node 1's (1, 0) is what producer 0 holds; node 3's (2, 0, 1) keeps its own
  // minor dim only, and is what its consumer 2 holds.
  const float l1 = std::log1p(1.0f);
  EXPECT_TRUE(e[0][0].allclose(torch::tensor({0.0f, 0.0f, l1, l1, 0.0f, 0.0f})));
  EXPECT_TRUE(e[0][1].allclose(torch::tensor({0.0f, 1.0f, 0.0f, 0.0f, l1, l1})));
  EXPECT_TRUE(e[1][0].eq(0).all().item<bool>());
  EXPECT_TRUE(e[1][1].allclose(e[0][1]));
  EXPECT_EQ(LayoutAgreement(node, ColumnStats{}).width(), 0);
}

TEST(OperandCopy, ComparesAskedOperandLayoutsWithWhatProducersWrite) {
  // Node: a rank, a layout run in columns 1-3, a size. Config: blocks 0 and 1 vary, block 2 is
  // constant: per flag set, 2 + 2 x 2 x 2 x 1 run = 10 flags, once per operand position.
  ColumnStats node =
      stats({1, -1, -1, -1, 0}, {4, 3, 3, 3, 5000}, {1, 1, 1, 1, 1}, {1, 1, 1, 1, 1});
  std::vector<float> sd(kLayoutConfigDim, 1);
  std::fill(sd.begin() + 12, sd.end(), 0);
  ColumnStats config =
      stats(std::vector<float>(kLayoutConfigDim, -1), std::vector<float>(kLayoutConfigDim, 3),
            std::vector<uint8_t>(kLayoutConfigDim, 1), sd);
  OperandCopy copy(node, config);
  ASSERT_EQ(copy.width(), 3 * 10);
  // Nodes 1 and 3 are configurable; edges 0 -> 1, 2 -> 1, 1 -> 3, 3 -> 2 (operand ranks 0, 1,
  // 0, 0). Held layouts: 0 (1, 0), 1 (0, 1), 2 (2, 0, 1), 3 (2, 1, 0).
  const std::vector<std::vector<float>> held = {{1, 0, -1}, {0, 1, -1}, {2, 0, 1}, {2, 1, 0}};
  torch::Tensor feat = torch::zeros({4, 5});
  for (int n = 0; n < 4; ++n) feat[n].narrow(0, 1, 3).copy_(torch::tensor(held[n]));
  torch::Tensor config_nodes = torch::tensor({1, 3}, torch::kInt64);
  torch::Tensor edges = torch::tensor({0, 2, 1, 3, 1, 1, 3, 2}, torch::kInt64).view({2, 4});
  torch::Tensor operand = torch::tensor({0, 1, 0, 0}, torch::kInt64);
  // Node 1 leaves its output unset and asks (1, 0) of its operands; node 3 writes (0, 1) and
  // asks (0, 1).
  torch::Tensor cfg = torch::full({1, 2, kLayoutConfigDim}, -1.0f);
  cfg[0][0].narrow(0, 6, 2).copy_(torch::tensor({1.0f, 0.0f}));
  cfg[0][1].narrow(0, 0, 2).copy_(torch::tensor({0.0f, 1.0f}));
  cfg[0][1].narrow(0, 6, 2).copy_(torch::tensor({0.0f, 1.0f}));
  OperandCopy::Edges e = copy.encode(cfg, feat, config_nodes, edges, operand);
  EXPECT_TRUE(torch::equal(e.rows, torch::tensor({0, 1, 2}, torch::kInt64)));  // not 3 -> 2
  ASSERT_EQ(e.flags.sizes(), (std::vector<int64_t>{1, 3, 30}));
  // Flags: [b0 set, b1 set], equal (b, a) for (0, 0), (0, 1), (1, 0), (1, 1), then minor-most
  // equal for the same pairs; flag f at position r is column 3 f + r.
  auto at = [](int position, std::vector<float> flags) {
    torch::Tensor out = torch::zeros({10, 3});
    out.select(1, position).copy_(torch::tensor(flags));
    return out.view({30});
  };
  // 0 -> 1: producer 0 is not configurable and writes what it holds, (1, 0): what 1 asks.
  EXPECT_TRUE(e.flags[0][0].equal(at(0, {0, 1, 0, 0, 1, 1, 0, 0, 1, 1})));
  // 2 -> 1, the second operand: 2 writes (2, 0, 1), not (1, 0).
  EXPECT_TRUE(e.flags[0][1].equal(at(1, {0, 1, 0, 0, 0, 0, 0, 0, 0, 0})));
  // 1 -> 3: 1's output is unset, so it writes its held (0, 1), which 3 asks in both blocks;
  // 1's block 1, (1, 0), is set and is what 1 "writes" as a block-1 layout.
  EXPECT_TRUE(e.flags[0][2].equal(at(0, {1, 1, 1, 0, 1, 0, 1, 0, 1, 0})));
  EXPECT_EQ(OperandCopy(node, ColumnStats{}).width(), 0);
}

TEST(LayoutAgreement, CpuLoopMatchesTensorOps) {
  for (uint64_t seed : {0, 1, 2}) {
    RandomLayoutBatch b = random_layout_batch(3, 40, 15, 90, seed);
    LayoutAgreement agreement(b.node, b.config);
    ASSERT_EQ(agreement.width(), 6 * 3 * 2);
    torch::Tensor loop = agreement.encode(b.config_feat, b.node_feat, b.config_nodes, b.edges);
    EXPECT_GT(loop.count_nonzero().item<int64_t>(), loop.numel() / 20);  // matches happen
    EXPECT_TRUE(loop.allclose(
        agreement.encode_with_tensor_ops(b.config_feat, b.node_feat, b.config_nodes, b.edges)));
    torch::Tensor none = torch::zeros({2, 0}, torch::kInt64);
    EXPECT_TRUE(agreement.encode(b.config_feat, b.node_feat, b.config_nodes, none)
                    .equal(agreement.encode_with_tensor_ops(b.config_feat, b.node_feat,
                                                            b.config_nodes, none)));
  }
}

TEST(OperandCopy, CpuLoopMatchesTensorOps) {
  for (uint64_t seed : {0, 1, 2}) {
    RandomLayoutBatch b = random_layout_batch(3, 40, 15, 90, seed);
    OperandCopy copy(b.node, b.config);
    ASSERT_EQ(copy.width(), 3 * 3 * (1 + 2 * 3 * 2));
    OperandCopy::Edges loop =
        copy.encode(b.config_feat, b.node_feat, b.config_nodes, b.edges, b.operand);
    OperandCopy::Edges ops =
        copy.encode_with_tensor_ops(b.config_feat, b.node_feat, b.config_nodes, b.edges, b.operand);
    EXPECT_TRUE(loop.rows.equal(ops.rows));
    EXPECT_GT(loop.flags.count_nonzero().item<int64_t>(), loop.flags.numel() / 50);
    EXPECT_TRUE(loop.flags.equal(ops.flags));
  }
}

TEST(ConfigMatch, CpuLoopMatchesTensorOps) {
  for (uint64_t seed : {0, 1, 2}) {
    RandomLayoutBatch b = random_layout_batch(3, 40, 15, 90, seed);
    ConfigMatch match(b.node, b.config);
    ASSERT_EQ(match.width(), kLayoutConfigDim * 5);
    torch::Tensor own = b.node_feat.index_select(0, b.config_nodes);
    torch::Tensor loop = match.encode(b.config_feat, own);
    EXPECT_GT(loop.count_nonzero().item<int64_t>(), loop.numel() / 20);
    EXPECT_TRUE(loop.equal(match.encode_with_tensor_ops(b.config_feat, own)));
  }
}

TEST(NeighbourMatch, CpuLoopMatchesTensorOps) {
  for (uint64_t seed : {0, 1, 2}) {
    RandomLayoutBatch b = random_layout_batch(3, 40, 15, 90, seed);
    NeighbourMatch match(b.config);
    ASSERT_EQ(match.width(), 4 * 3 * 3);
    torch::Tensor edges = torch::randint(0, 15, {2, 30}, torch::kInt64);
    torch::Tensor loop = match.encode(b.config_feat, edges);
    EXPECT_GT(loop.count_nonzero().item<int64_t>(), loop.numel() / 20);
    EXPECT_TRUE(loop.allclose(match.encode_with_tensor_ops(b.config_feat, edges)));
  }
}

TEST(DimFit, CpuLoopMatchesTensorOps) {
  for (uint64_t seed : {0, 1, 2}) {
    RandomLayoutBatch b = random_layout_batch(3, 40, 15, 90, seed);
    torch::Tensor own = b.node_feat.index_select(0, b.config_nodes);
    for (bool kept_layouts : {false, true}) {
      DimFit fit(b.node, b.config, kept_layouts);
      ASSERT_EQ(fit.width(), 3 * 6 * 1 * (kept_layouts ? 3 : 1));
      torch::Tensor loop = fit.encode(b.config_feat, own);
      EXPECT_GT(loop.count_nonzero().item<int64_t>(), loop.numel() / 20);
      EXPECT_TRUE(loop.allclose(fit.encode_with_tensor_ops(b.config_feat, own), 1e-5, 1e-6));
    }
  }
}

TEST(LayoutEncodings, NoColumnsEncodeToNoWidth) {
  RandomLayoutBatch b = random_layout_batch(3, 40, 15, 90, 0);
  torch::Tensor own = b.node_feat.index_select(0, b.config_nodes);
  const std::vector<int64_t> none = {3, 15, 0};
  EXPECT_EQ(ConfigMatch().encode(b.config_feat, own).sizes(), none);
  EXPECT_EQ(NeighbourMatch().encode(b.config_feat, b.edges.remainder(15)).sizes(), none);
  EXPECT_EQ(DimFit().encode(b.config_feat, own).sizes(), none);
  EXPECT_EQ(LayoutAgreement().encode(b.config_feat, b.node_feat, b.config_nodes, b.edges).sizes(),
            none);
  EXPECT_EQ(OperandCopy()
                .encode(b.config_feat, b.node_feat, b.config_nodes, b.edges, b.operand)
                .flags.size(2),
            0);
}

TEST(DimFit, PicksTheMinorDimsFromTheShapeRunAndTheirTilePadding) {
  // Node: a rank (coded), dims in columns 1-3 and the element count in 4 (one run of size
  // columns), a coded column, a lone size column (no run).
  ColumnStats node = stats({1, 0, 0, 0, 0, -1, 0}, {4, 5000, 300, 64, 1e6, 3, 1e4},
                           {1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 1});
  // Config: the minor-most and second-minor slots of block 0 vary; blocks 1 and 2 are constant.
  std::vector<float> sd(kLayoutConfigDim, 0);
  sd[0] = sd[1] = 1;
  ColumnStats config =
      stats(std::vector<float>(kLayoutConfigDim, -1), std::vector<float>(kLayoutConfigDim, 5),
            std::vector<uint8_t>(kLayoutConfigDim, 1), sd);
  DimFit fit(node, config, /*kept_layouts=*/true);  // no held layout run: nothing kept
  ASSERT_EQ(fit.width(), 3 * 2);
  torch::Tensor feat = torch::zeros({3, 7});
  feat[0] = torch::tensor(std::vector<float>{2, 130, 16, 0, 2080, 1, 9});
  feat[1] = torch::tensor(std::vector<float>{3, 8, 200, 3, 4800, 2, 9});
  feat[2] = torch::tensor(std::vector<float>{2, 40, 40, 0, 1600, 1, 9});
  torch::Tensor cfg = torch::full({1, 3, kLayoutConfigDim}, -1.0f);
  cfg[0][0][0] = 0, cfg[0][0][1] = 1;  // minor dim 130, second-minor 16
  cfg[0][1][0] = 2;                    // minor dim 3, second-minor absent
  cfg[0][2][0] = 5, cfg[0][2][1] = 2;  // past the run; a dim of size 0
  torch::Tensor e = fit.encode(cfg, feat);
  ASSERT_EQ(e.sizes(), (std::vector<int64_t>{1, 3, 6}));
  auto expect = [](double x, double pad128, double pad8) {
    return std::vector<double>{std::log1p(x) / 8, std::log(pad128 / x), std::log(pad8 / x)};
  };
  std::vector<double> want = expect(130, 256, 136);
  for (double v : expect(16, 128, 16)) want.push_back(v);
  for (double v : expect(3, 128, 8)) want.push_back(v);
  for (int i = 0; i < 3; ++i) want.push_back(0);
  for (int i = 0; i < 6; ++i) want.push_back(0);
  EXPECT_TRUE(e.view({18}).allclose(torch::tensor(want).to(torch::kFloat32), 1e-5, 1e-6)) << e;
  EXPECT_EQ(DimFit(ColumnStats{}, config, true).width(), 0);
}

TEST(DimFit, AbsentSlotsTakeTheFitOfTheLayoutTheNodeHolds) {
  // Node: dims in columns 0-2 (a size run), its own minor-to-major layout in 3-4 (a held run).
  ColumnStats node =
      stats({0, 0, 0, -1, -1}, {5000, 300, 64, 3, 3}, {1, 1, 1, 1, 1}, {1, 1, 1, 1, 1});
  std::vector<float> sd(kLayoutConfigDim, 0);
  sd[0] = sd[1] = 1;
  ColumnStats config =
      stats(std::vector<float>(kLayoutConfigDim, -1), std::vector<float>(kLayoutConfigDim, 5),
            std::vector<uint8_t>(kLayoutConfigDim, 1), sd);
  EXPECT_EQ(DimFit(node, config, /*kept_layouts=*/false).width(), 3 * 2);
  DimFit fit(node, config, /*kept_layouts=*/true);
  ASSERT_EQ(fit.width(), 3 * 2 * 2);
  torch::Tensor feat = torch::tensor(std::vector<float>{130, 16, 0, 1, 0,  //
                                                        8, 200, 3, 2, -1,  //
                                                        40, 40, 5, 0, 1})
                           .view({3, 5});
  torch::Tensor cfg = torch::full({1, 3, kLayoutConfigDim}, -1.0f);
  cfg[0][1][0] = 0;                    // node 1: minor dim set, second-minor absent
  cfg[0][2][0] = 2, cfg[0][2][1] = 1;  // node 2: both set
  torch::Tensor e = fit.encode(cfg, feat).view({3, 2, 6});  // node, slot, (set fit, kept fit)
  auto fits = [](double x) {
    return torch::tensor(std::vector<double>{std::log1p(x) / 8,
                                             std::log(std::ceil(x / 128) * 128 / x),
                                             std::log(std::ceil(x / 8) * 8 / x)})
        .to(torch::kFloat32);
  };
  torch::Tensor none = torch::zeros({3});
  auto expect = [&](int n, int slot, const torch::Tensor& set, const torch::Tensor& kept) {
    EXPECT_TRUE(e[n][slot].allclose(torch::cat({set, kept}), 1e-5, 1e-6))
        << "node " << n << " slot " << slot << ": " << e[n][slot];
  };
  // Node 0 leaves both slots to its own layout (1, 0): minor dim 16, second-minor 130.
  expect(0, 0, none, fits(16));
  expect(0, 1, none, fits(130));
  // Node 1 sets its minor dim (8); its held second-minor is absent (-1, a rank-1 layout).
  expect(1, 0, fits(8), none);
  expect(1, 1, none, none);
  // Node 2 sets both; nothing is kept.
  expect(2, 0, fits(5), none);
  expect(2, 1, fits(40), none);
}

TEST(TileFit, LogPaddingBlowUpOfEveryNodeSizeByEveryTileSize) {
  // Config: column 0 a tile size 8..1024, column 1 its log2 (a name-like small integer, skipped).
  // Node: column 0 a dim 0..2048, column 1 a rank 1..4 (skipped), column 2 measured (skipped).
  ColumnStats config = stats({8, 3}, {1024, 10}, {1, 1}, {1, 1});
  ColumnStats node = stats({0, 1, 0}, {2048, 4, 5000}, {1, 1, 0}, {1, 1, 1});
  TileFit fit(node, config);
  ASSERT_EQ(fit.width(), 1);
  // K = 2 configs (tile 128, then 0 = absent) of M = 3 nodes with dims 100, 256 and 0 (absent).
  torch::Tensor cfg =
      torch::tensor(std::vector<float>{128, 7, 128, 7, 128, 7, 0, 0, 0, 0, 0, 0}).view({2, 3, 2});
  torch::Tensor feat =
      torch::tensor(std::vector<float>{100, 2, 1, 256, 2, 1, 0, 1, 1}).view({3, 3});
  torch::Tensor e = fit.encode(cfg, feat);
  ASSERT_EQ(e.sizes(), (std::vector<int64_t>{2, 3, 1}));
  // 100 pads to 128 (blow-up 1.28); 256 is a multiple of 128 (none); absent sizes give 0.
  EXPECT_NEAR(e[0][0][0].item<float>(), std::log(1.28), 1e-6);
  EXPECT_EQ(e[0][1][0].item<float>(), 0);
  EXPECT_EQ(e[0][2][0].item<float>(), 0);
  EXPECT_TRUE(e[1].eq(0).all().item<bool>());
  EXPECT_EQ(TileFit(node, ColumnStats{}).width(), 0);
}

TEST(TileAlign, TileExtentCountAndVectorTilePaddingOnTheDimsTheNodesLayoutPutsMinor) {
  // Config: columns 0, 1 tile sizes per dim (a run), column 2 a log2 (small integer, skipped).
  // Node: columns 0, 1 dims (a run), 2, 3 a held minor-to-major layout, 4 measured (skipped).
  ColumnStats config = stats({8, 8, 3}, {1024, 1024, 10}, {1, 1, 1}, {1, 1, 1});
  ColumnStats node =
      stats({0, 0, -1, -1, 0}, {2048, 2048, 1, 1, 5000}, {1, 1, 1, 1, 0}, {1, 1, 1, 1, 1});
  TileAlign align(node, config);
  ASSERT_EQ(align.width(), 3);  // one tile run x one dim run x (extent, count, one held layout)
  // One config (tile 64 x 16) at two nodes: dims (300, 20) with dim 1 minor-most and dim 0
  // second-minor; dims (300, absent) of rank 1, dim 0 minor-most.
  torch::Tensor cfg = torch::tensor(std::vector<float>{64, 16, 6, 64, 16, 6}).view({1, 2, 3});
  torch::Tensor feat =
      torch::tensor(std::vector<float>{300, 20, 1, 0, 7.5f, 300, 0, 0, -1, 2.5f}).view({2, 5});
  torch::Tensor e = align.encode(cfg, feat);
  ASSERT_EQ(e.sizes(), (std::vector<int64_t>{1, 2, 3}));
  // Node 0: extent 64 x 16, 5 x 2 tiles; 16 on the minor dim pads to 128 (8x), 64 on the
  // second-minor is a multiple of 8.
  EXPECT_NEAR(e[0][0][0].item<float>(), std::log(64.0 * 16) / 8, 1e-5);
  EXPECT_NEAR(e[0][0][1].item<float>(), std::log(10.0) / 8, 1e-5);
  EXPECT_NEAR(e[0][0][2].item<float>(), std::log(8.0), 1e-5);
  // Node 1: only dim 0 counts: extent 64 in 5 tiles, padded to 128 as its minor dim.
  EXPECT_NEAR(e[0][1][0].item<float>(), std::log(64.0) / 8, 1e-5);
  EXPECT_NEAR(e[0][1][1].item<float>(), std::log(5.0) / 8, 1e-5);
  EXPECT_NEAR(e[0][1][2].item<float>(), std::log(2.0), 1e-5);
  EXPECT_EQ(TileAlign(node, ColumnStats{}).width(), 0);
}

}  // namespace
}  // namespace gst
