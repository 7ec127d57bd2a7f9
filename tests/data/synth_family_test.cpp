// Synthetic cost families: parsing, the properties each family promises, and the reference
// figures (noise ceiling, oracle) every collection reports.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "data/graph_io.h"
#include "data/synth.h"
#include "data/synth_cost.h"
#include "eval/metrics.h"
#include "expect_input_error.h"
#include "test_support.h"

namespace gst {
namespace {

using synth::CostFamily;
using synth::parse_cost_family;
using testing::ScratchDir;

TEST(SynthFamily, ParsesNamesAndRejectsUnknownOnes) {
  EXPECT_EQ(parse_cost_family("classic", Task::Layout).str(), "classic");
  EXPECT_EQ(parse_cost_family("heavy,noisy", Task::Layout).str(), "agree,heavy,noisy");
  EXPECT_EQ(parse_cost_family("agree,relayout", Task::Layout).str(), "agree,relayout");
  EXPECT_EQ(parse_cost_family("oneshape,spill", Task::Tile).str(), "spill,oneshape");
  testing::expect_input_error([] { parse_cost_family("agree,bogus", Task::Layout); },
                              {"--cost agree,bogus", "'bogus'", "agree, coherent"});
  testing::expect_input_error([] { parse_cost_family("agree", Task::Tile); },
                              {"not a tile cost family", "oneshape"});
  testing::expect_input_error([] { parse_cost_family("", Task::Layout); }, {"--cost"});
}

// Degenerate options are refused with the option named, before anything is written.
TEST(SynthFamily, DegenerateOptionsAreClearErrors) {
  ScratchDir dir("synth-degenerate");
  const std::string base = testing::gst_binary() + " synth --graphs 2 --out " + dir.path().string();
  struct Case {
    std::string args, expect;
  };
  for (const Case& c : {Case{" --collection tile:xla --configs 1", "--configs 1"},
                        Case{" --collection layout:xla:random --max-config-share 0 "
                             "--min-config-share 0",
                             "--max-config-share"},
                        Case{" --collection layout:xla:random --cost nope", "--cost nope"}}) {
    auto r = testing::run_command(base + c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.expect), std::string::npos) << r.output;
  }
}

// The configs of `agree` are drawn per node: the local cost of a node drops by exactly its weight
// when its own layout is made to match the config's choice (and -1 means "keep your own").
TEST(SynthFamily, AgreeCostHingesOnEqualityWithTheNodesOwnLayout) {
  SynthOptions o;
  o.cost = "agree";
  o.configs = 16;
  Graph g = synth_graph(o, Task::Layout, 5, 800);
  const CostFamily family = parse_cost_family("agree", Task::Layout);
  const int64_t m = g.num_config_nodes();
  ASSERT_GT(m, 10);
  synth::LayoutCostTerms before = synth::layout_cost_terms(g, family);
  int changed = 0, unset = 0;
  for (int64_t j = 0; j < m; ++j) {
    const float k = g.config_feat[j * kLayoutConfigDim];  // config 0
    unset += k < 0;
    float& own = g.node_feat[g.config_node_ids[j] * kNodeFeatureDim + synth::kFeatLayout];
    if (k < 0 || own == k || changed > 0) continue;
    own = k;  // the node now already has the layout config 0 picks
    const double weight = g.node_feat[g.config_node_ids[j] * kNodeFeatureDim + 5] / 1024.0;
    synth::LayoutCostTerms after = synth::layout_cost_terms(g, family);
    EXPECT_NEAR(after.local[0], before.local[0] - weight, 1e-9 * before.local[0]);
    ++changed;
  }
  EXPECT_EQ(changed, 1);
  // Over all configs some nodes are left unset (all 18 features -1).
  int64_t all_unset = 0;
  for (int64_t i = 0; i < g.num_configs() * m; ++i) {
    const float* f = &g.config_feat[i * kLayoutConfigDim];
    all_unset += std::all_of(f, f + kLayoutConfigDim, [](float x) { return x == -1; });
  }
  EXPECT_GT(all_unset, 0);
  EXPECT_LT(all_unset, g.num_configs() * m / 4);
  // Own layouts are not all row-major.
  int64_t other = 0;
  for (int64_t v = 0; v < g.num_nodes; ++v) {
    const float* f = &g.node_feat[v * kNodeFeatureDim];
    other += f[synth::kFeatRank] >= 2 && f[synth::kFeatLayout] != f[synth::kFeatRank] - 1;
  }
  EXPECT_GT(other, g.num_nodes / 10);
}

// Columns that vary across nodes (beyond those the cost reads).
int varying_columns(const Graph& g) {
  int count = 0;
  for (int c = 0; c < kNodeFeatureDim; ++c) {
    std::set<float> values;
    for (int64_t v = 0; v < g.num_nodes && values.size() < 2; ++v)
      values.insert(g.node_feat[v * kNodeFeatureDim + c]);
    count += values.size() > 1;
  }
  return count;
}

TEST(SynthFamily, NoisyAddsDozensOfVaryingColumnsAndOneshapeHidesShapes) {
  SynthOptions o;
  Graph classic = synth_graph(o, Task::Layout, 9, 600);
  o.cost = "agree,noisy";
  Graph noisy = synth_graph(o, Task::Layout, 9, 600);
  EXPECT_GE(varying_columns(noisy), varying_columns(classic) + synth::kNoisyColumns - 5);

  o.cost = "oneshape";
  Graph kernel = synth_graph(o, Task::Tile, 3, 20);
  for (int64_t v = 0; v < kernel.num_nodes; ++v) {
    const float* f = &kernel.node_feat[v * kNodeFeatureDim];
    if (f[synth::kFeatIsOutput] > 0)
      EXPECT_GT(f[synth::kFeatDims], 0);
    else
      EXPECT_EQ(f[synth::kFeatElements], 0) << "node " << v;
  }
}

// Every family reports a noise ceiling and an oracle; the oracle never beats what it leaves out
// by much, and families with edges leave the oracle clearly below the ceiling.
TEST(SynthFamily, CollectionsReportCeilingAndOracle) {
  ScratchDir dir("synth-families");
  SynthOptions o;
  o.min_nodes = 200;
  o.max_nodes = 800;
  o.configs = 32;
  for (const char* cost : {"classic", "agree", "agree,heavy", "agree,relayout", "agree,noisy"}) {
    o.cost = cost;
    SynthReference r = synth_collection("layout:xla:random", dir / cost, 8, 1, o);
    EXPECT_EQ(r.graphs, 8);
    EXPECT_GT(r.ceiling_tau, 0.3) << cost;
    EXPECT_LE(r.oracle_tau, r.ceiling_tau + 0.05) << cost;
    if (std::string(cost).find("relayout") != std::string::npos || std::string(cost) == "classic")
      EXPECT_LT(r.oracle_tau, r.ceiling_tau - 0.1) << cost;
  }
  o.configs = 64;
  for (const char* cost : {"classic", "spill", "oneshape,noisy"}) {
    o.cost = cost;
    SynthReference r = synth_collection("tile:xla", dir / (std::string("t") + cost), 12, 1, o);
    EXPECT_GT(r.ceiling_tau, 0.8) << cost;
    EXPECT_LT(r.ceiling_top1, 0.1) << cost;
    EXPECT_LE(r.ceiling_top5, r.ceiling_top1 + 1e-12) << cost;
  }
}

// The figures of each split are those of its written files, recomputed here from the files read
// back, and the collection's are their graph-weighted mean.
TEST(SynthFamily, ReferenceFiguresPerSplitMatchTheirFiles) {
  ScratchDir dir("synth-splits");
  SynthOptions o;
  o.min_nodes = 200;
  o.max_nodes = 600;
  o.configs = 24;
  o.cost = "agree,relayout";
  SynthReference r = synth_collection("layout:xla:random", dir.path(), 10, 3, o);
  const CostFamily family = parse_cost_family(o.cost, Task::Layout);
  int64_t graphs = 0;
  double ceiling = 0, oracle = 0;
  for (const auto& [split, f] : r.splits) {
    double split_ceiling = 0, split_oracle = 0;
    int64_t files = 0;
    for (const auto& e :
         std::filesystem::directory_iterator(dir.path() / "npz/layout/xla/random" / split)) {
      Graph g = read_graph(e.path(), Task::Layout);
      split_ceiling += kendall_tau(synth::noiseless_cost(g, family), g.runtime);
      split_oracle += kendall_tau(synth::oracle_cost(g, family), g.runtime);
      ++files;
    }
    ASSERT_EQ(f.graphs, files) << split;
    EXPECT_NEAR(f.ceiling_tau, split_ceiling / files, 1e-12) << split;
    EXPECT_NEAR(f.oracle_tau, split_oracle / files, 1e-12) << split;
    graphs += f.graphs;
    ceiling += f.ceiling_tau * f.graphs;
    oracle += f.oracle_tau * f.graphs;
  }
  EXPECT_EQ(r.splits.size(), 3u);
  EXPECT_EQ(graphs, r.graphs);
  EXPECT_NEAR(r.ceiling_tau, ceiling / graphs, 1e-12);
  EXPECT_NEAR(r.oracle_tau, oracle / graphs, 1e-12);
}

}  // namespace
}  // namespace gst
