// Synthetic collections: determinism, validity, HLO-like shape, and a cost function that needs
// the graph structure to rank configs well.
#include "data/synth.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <set>

#include "data/collection.h"
#include "data/graph_io.h"
#include "data/synth_cost.h"
#include "test_support.h"

namespace gst {
namespace {

using testing::run_command;
using testing::run_python;
using testing::ScratchDir;

// Kendall's tau-b of two score lists (O(n^2), fine for a few hundred configs).
double kendall_tau(const std::vector<double>& a, const std::vector<double>& b) {
  double concordant = 0, discordant = 0, ties_a = 0, ties_b = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = i + 1; j < a.size(); ++j) {
      double da = a[i] - a[j], db = b[i] - b[j];
      if (da == 0 && db == 0) continue;
      if (da == 0) {
        ++ties_a;
      } else if (db == 0) {
        ++ties_b;
      } else {
        (da * db > 0 ? concordant : discordant) += 1;
      }
    }
  double denom = std::sqrt((concordant + discordant + ties_a) * (concordant + discordant + ties_b));
  return denom > 0 ? (concordant - discordant) / denom : 0;
}

TEST(Synth, KendallTauHelperMatchesHandComputedValues) {
  EXPECT_DOUBLE_EQ(kendall_tau({1, 2, 3}, {10, 20, 30}), 1.0);
  EXPECT_DOUBLE_EQ(kendall_tau({1, 2, 3}, {30, 20, 10}), -1.0);
  EXPECT_NEAR(kendall_tau({1, 2, 3, 4}, {1, 3, 2, 4}), 4.0 / 6.0, 1e-12);
}

std::string file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every file under `root`, relative path -> bytes.
std::map<std::string, std::string> tree(const std::filesystem::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root))
    if (e.is_regular_file())
      out[std::filesystem::relative(e.path(), root).string()] = file_bytes(e.path());
  return out;
}

TEST(Synth, SameSeedGivesByteIdenticalFiles) {
  ScratchDir dir("synth-det");
  const std::string base = testing::gst_binary() + " synth --graphs 6 --min-nodes 200 " +
                           "--max-nodes 600 --configs 16 --collection ";
  for (const char* collection : {"layout:xla:random", "tile:xla"}) {
    for (const char* out : {"a", "b"})
      ASSERT_EQ(
          run_command(base + collection + " --seed 7 --out " + (dir / out).string()).exit_code, 0);
    ASSERT_EQ(run_command(base + collection + " --seed 8 --out " + (dir / "c").string()).exit_code,
              0);
  }
  auto a = tree(dir / "a"), b = tree(dir / "b"), c = tree(dir / "c");
  ASSERT_EQ(a.size(), 12u);
  EXPECT_EQ(a, b);
  ASSERT_EQ(c.size(), 12u);
  int same = 0;
  for (const auto& [path, bytes] : a) same += c.count(path) && c[path] == bytes;
  EXPECT_EQ(same, 0) << "a different seed must change every file";
  // In memory too.
  SynthOptions o;
  Graph g1 = synth_graph(o, Task::Layout, 42, 500), g2 = synth_graph(o, Task::Layout, 42, 500);
  EXPECT_EQ(g1.edges, g2.edges);
  EXPECT_EQ(g1.config_feat, g2.config_feat);
  EXPECT_EQ(g1.runtime, g2.runtime);
}

// A graph too big to hold is drawn and written a block of configs at a time: the files are the
// same bytes as when every graph is held whole, and the references the same figures.
TEST(Synth, StreamedGraphsGiveTheSameBytesAsGraphsHeldWhole) {
  ScratchDir dir("synth-stream");
  struct Case {
    const char* collection;
    const char* cost;
    bool compress;
  };
  for (const Case& c : {Case{"layout:xla:random", "classic", true},
                        Case{"layout:nlp:default", "agree,heavy", false},
                        Case{"layout:xla:random", "agree,relayout,noisy", true}}) {
    SynthOptions held;
    held.min_nodes = 300;
    held.max_nodes = 1500;
    held.configs = 37;
    held.cost = c.cost;
    held.compress = c.compress;
    SynthOptions streamed = held;
    streamed.stream_above_bytes = 0;     // every layout graph streamed
    streamed.memory_bytes = 16 * 20000;  // blocks of 20 kB: a few configs each
    const std::string name = std::string(c.collection) + c.cost;
    SynthReference a = synth_collection(c.collection, dir / "held" / name, 5, 11, held);
    SynthReference b = synth_collection(c.collection, dir / "streamed" / name, 5, 11, streamed);
    EXPECT_EQ(a.ceiling_tau, b.ceiling_tau) << name;
    EXPECT_EQ(a.oracle_tau, b.oracle_tau) << name;
    auto ta = tree(dir / "held" / name), tb = tree(dir / "streamed" / name);
    ASSERT_EQ(ta.size(), 5u);
    EXPECT_TRUE(ta == tb) << name;
  }
}

// `gst synth --memory-mb`: a graph above a quarter of the budget is streamed (the log says so),
// with the same files.
TEST(Synth, MemoryOptionStreamsBigGraphsWithTheSameFiles) {
  ScratchDir dir("synth-memory");
  const std::string base = testing::gst_binary() +
                           " synth --collection layout:xla:random --graphs 2 --seed 9 "
                           "--configs 2000 --min-nodes 3000 --max-nodes 3000 --out ";
  auto held = run_command(base + (dir / "held").string() + " 2>&1");
  ASSERT_EQ(held.exit_code, 0) << held.output;
  EXPECT_EQ(held.output.find("a block at a time"), std::string::npos) << held.output;
  auto streamed = run_command(base + (dir / "streamed").string() + " --memory-mb 16 2>&1");
  ASSERT_EQ(streamed.exit_code, 0) << streamed.output;
  EXPECT_NE(streamed.output.find("written a block at a time"), std::string::npos)
      << streamed.output;
  EXPECT_TRUE(tree(dir / "held") == tree(dir / "streamed"));
  EXPECT_NE(run_command(base + (dir / "x").string() + " --memory-mb 8 2>&1").exit_code, 0);
}

TEST(Synth, CollectionUsesRealLayoutDtypesAndPassesValidation) {
  ScratchDir dir("synth-valid");
  SynthOptions o;
  o.min_nodes = 200;
  o.max_nodes = 2000;
  o.configs = 24;
  synth_collection("layout:nlp:default", dir.path(), 20, 3, o);
  synth_collection("tile:xla", dir.path(), 12, 3, o);
  Collection layout = Collection::open(dir.path(), "layout:nlp:default");
  EXPECT_EQ(layout.dir(), dir.path() / "npz/layout/nlp/default");
  EXPECT_EQ(layout.files("train").size(), 14u);
  EXPECT_EQ(layout.files("valid").size(), 3u);
  EXPECT_EQ(layout.files("test").size(), 3u);
  LoadedGraphs all = layout.load_all({}, false);
  ASSERT_EQ(all.graphs.size(), 20u);
  int with_splits = 0;
  for (const Graph& g : all.graphs) {
    double share = double(g.num_config_nodes()) / g.num_nodes;
    EXPECT_GE(share, 0.04) << g.id;
    EXPECT_LE(share, 0.21) << g.id;
    with_splits += !g.node_splits.empty();
  }
  EXPECT_GT(with_splits, 0) << "node_splits should appear in some graphs";
  EXPECT_LT(with_splits, 20);
  Collection tile = Collection::open(dir.path() / "npz/tile/xla");
  EXPECT_EQ(tile.name().str(), "tile:xla");
  EXPECT_EQ(tile.load_all({"train", "valid", "test"}, false).graphs.size(), 12u);

  auto r = run_python(R"(
import sys, glob, numpy as np
root = sys.argv[1]
want = {'node_feat': np.float32, 'node_opcode': np.uint8, 'edge_index': np.int64,
        'node_config_ids': np.int64, 'node_config_feat': np.float32, 'config_runtime': np.int64,
        'config_feat': np.float32, 'config_runtime_normalizers': np.int64, 'node_splits': np.int64}
n = 0
for path in sorted(glob.glob(root + '/npz/**/*.npz', recursive=True)):
    d = np.load(path)
    keys = set(d.files)
    if '/layout/' in path:
        assert {'node_feat', 'node_opcode', 'edge_index', 'node_config_ids', 'node_config_feat', 'config_runtime'} <= keys, keys
        assert d['node_config_feat'].shape[1:] == (len(d['node_config_ids']), 18)
    else:
        assert keys == {'node_feat', 'node_opcode', 'edge_index', 'config_feat', 'config_runtime', 'config_runtime_normalizers'}, keys
        assert d['config_feat'].shape[1] == 24
    for k in keys:
        assert d[k].dtype == want[k], (path, k, d[k].dtype)
    assert d['node_feat'].shape[1] == 140
    assert (d['config_runtime'] > 0).all()
    n += 1
print('files', n)
)",
                      dir.path().string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("files 32"), std::string::npos) << r.output;
}

TEST(Synth, LayoutGraphsLookLikeHloPrograms) {
  SynthOptions o;
  Graph g = synth_graph(o, Task::Layout, 11, 5000);
  ASSERT_EQ(g.num_nodes, 5000);
  std::vector<int> fan_in(g.num_nodes), fan_out(g.num_nodes);
  int64_t chain_edges = 0;
  for (int64_t e = 0; e < g.num_edges(); ++e) {
    int64_t u = g.edges[2 * e], v = g.edges[2 * e + 1];
    ASSERT_LT(u, v) << "edges must follow a topological order (a DAG)";
    chain_edges += v == u + 1;
    ++fan_in[v];
    ++fan_out[u];
  }
  // Long chains: most nodes consume their predecessor; still fan-in and fan-out exist.
  EXPECT_GT(chain_edges, g.num_nodes / 2);
  EXPECT_GT(std::count_if(fan_in.begin(), fan_in.end(), [](int d) { return d >= 2; }), 500);
  EXPECT_GT(std::count_if(fan_out.begin(), fan_out.end(), [](int d) { return d >= 5; }), 5);
  // Configurable nodes cluster: many of them feed another configurable node.
  std::set<int64_t> configurable(g.config_node_ids.begin(), g.config_node_ids.end());
  int64_t linked = 0;
  for (int64_t e = 0; e < g.num_edges(); ++e)
    linked += configurable.count(g.edges[2 * e]) && configurable.count(g.edges[2 * e + 1]);
  EXPECT_GT(linked, g.num_config_nodes() / 3);
  Graph t = synth_graph(o, Task::Tile, 11, 30);
  EXPECT_EQ(t.num_nodes, 30);
  EXPECT_EQ(t.num_configs(), o.configs);
}

// Mean over graphs of Kendall's tau between `score(graph)` and the measured runtimes.
template <typename F>
double mean_tau(const std::vector<Graph>& graphs, F&& score) {
  double sum = 0;
  for (const Graph& g : graphs) sum += kendall_tau(score(g), g.runtime);
  return sum / graphs.size();
}

// Per config: the 18 layout config features summed over the configurable nodes, plus a bias.
std::vector<std::vector<double>> summed_config_features(const Graph& g) {
  const int64_t m = g.num_config_nodes();
  std::vector<std::vector<double>> x(g.num_configs(), std::vector<double>(kLayoutConfigDim + 1));
  for (int64_t c = 0; c < g.num_configs(); ++c) {
    for (int64_t j = 0; j < m; ++j)
      for (int k = 0; k < kLayoutConfigDim; ++k)
        x[c][k] += g.config_feat[(c * m + j) * kLayoutConfigDim + k];
    x[c][kLayoutConfigDim] = 1;
  }
  return x;
}

// Least squares on within-graph-standardized runtimes (normal equations + Gauss-Jordan).
std::vector<double> fit_linear(const std::vector<Graph>& graphs) {
  const int d = kLayoutConfigDim + 1;
  std::vector<std::vector<double>> a(d, std::vector<double>(d + 1, 0.0));
  for (const Graph& g : graphs) {
    auto x = summed_config_features(g);
    double mean = std::accumulate(g.runtime.begin(), g.runtime.end(), 0.0) / g.num_configs();
    for (int64_t c = 0; c < g.num_configs(); ++c) {
      double y = g.runtime[c] / mean - 1;
      for (int i = 0; i < d; ++i) {
        for (int j = 0; j < d; ++j) a[i][j] += x[c][i] * x[c][j];
        a[i][d] += x[c][i] * y;
      }
    }
  }
  for (int i = 0; i < d; ++i) a[i][i] += 1e-6;  // ridge: the layout slots are collinear
  for (int col = 0; col < d; ++col) {
    int pivot = col;
    for (int r = col + 1; r < d; ++r)
      if (std::abs(a[r][col]) > std::abs(a[pivot][col])) pivot = r;
    std::swap(a[col], a[pivot]);
    for (int r = 0; r < d; ++r) {
      if (r == col || a[col][col] == 0) continue;
      double f = a[r][col] / a[col][col];
      for (int k = col; k <= d; ++k) a[r][k] -= f * a[col][k];
    }
  }
  std::vector<double> w(d);
  for (int i = 0; i < d; ++i) w[i] = a[i][i] == 0 ? 0 : a[i][d] / a[i][i];
  return w;
}

std::vector<Graph> layout_graphs(uint64_t first_seed, int count) {
  SynthOptions o;
  o.configs = 100;
  std::vector<Graph> graphs;
  for (int i = 0; i < count; ++i)
    graphs.push_back(synth_graph(o, Task::Layout, first_seed + i, 800 + 300 * (i % 5)));
  return graphs;
}

// The true (noiseless) cost ranks configs well; structure-blind rules rank clearly worse on
// held-out graphs: the exact sum of every node-local term (what a per-node model can at best
// learn) and a linear fit on config features summed over nodes, fit on training graphs.
TEST(Synth, StructureBlindBaselinesRankWorseThanTheTrueCost) {
  std::vector<Graph> train = layout_graphs(1000, 24), held_out = layout_graphs(5000, 16);
  double true_tau = mean_tau(held_out, [](const Graph& g) { return synth::noiseless_cost(g); });
  double local_tau = mean_tau(held_out, [](const Graph& g) {
    synth::LayoutCostTerms t = synth::layout_cost_terms(g);
    std::vector<double> s(g.num_configs());
    for (int64_t c = 0; c < g.num_configs(); ++c) s[c] = t.base + t.local[c];
    return s;
  });
  std::vector<double> w = fit_linear(train);
  double linear_tau = mean_tau(held_out, [&](const Graph& g) {
    std::vector<double> s;
    for (const auto& x : summed_config_features(g))
      s.push_back(std::inner_product(x.begin(), x.end(), w.begin(), 0.0));
    return s;
  });
  std::cout << "mean Kendall tau on held-out graphs: true cost " << true_tau
            << ", node-local terms only " << local_tau << ", linear on summed config features "
            << linear_tau << "\n";
  EXPECT_GT(true_tau, 0.75);
  EXPECT_LT(local_tau, true_tau - 0.25);
  EXPECT_LT(linear_tau, true_tau - 0.35);
  // The pairwise (edge) term carries a real share of the variation across configs.
  double pair_share = 0;
  for (const Graph& g : held_out) {
    synth::LayoutCostTerms t = synth::layout_cost_terms(g);
    auto var = [](const std::vector<double>& v) {
      double m = std::accumulate(v.begin(), v.end(), 0.0) / v.size(), s = 0;
      for (double x : v) s += (x - m) * (x - m);
      return s / v.size();
    };
    pair_share += var(t.pairwise) / (var(t.pairwise) + var(t.local)) / held_out.size();
  }
  EXPECT_GT(pair_share, 0.4);
}

// No fixed rule picks the best config: the best tile differs across kernels, and for layout the
// row-major default is not what the cost prefers everywhere.
TEST(Synth, BestConfigChangesAcrossGraphs) {
  SynthOptions o;
  o.configs = 288;  // every tile size once
  std::set<std::vector<float>> best_tiles;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Graph g = synth_graph(o, Task::Tile, seed, 10 + seed * 2);
    std::vector<double> cost = synth::noiseless_cost(g);
    int64_t best = std::min_element(cost.begin(), cost.end()) - cost.begin();
    best_tiles.insert(std::vector<float>(&g.config_feat[best * kTileConfigDim],
                                         &g.config_feat[best * kTileConfigDim + 3]));
    EXPECT_GT(*std::max_element(cost.begin(), cost.end()), 1.5 * cost[best]) << g.id;
  }
  EXPECT_GE(best_tiles.size(), 4u);

  // Layout: per graph, how often the best config uses the default (last) minor dim.
  o.configs = 100;
  int default_wins = 0, graphs = 0;
  for (const Graph& g : layout_graphs(77, 10)) {
    std::vector<double> cost = synth::noiseless_cost(g);
    const int64_t m = g.num_config_nodes();
    int64_t best = std::min_element(cost.begin(), cost.end()) - cost.begin();
    std::vector<double> defaults(g.num_configs());
    for (int64_t c = 0; c < g.num_configs(); ++c)
      for (int64_t j = 0; j < m; ++j) {
        int rank = static_cast<int>(g.node_feat[g.config_node_ids[j] * kNodeFeatureDim]);
        defaults[c] += g.config_feat[(c * m + j) * kLayoutConfigDim] == rank - 1;
      }
    default_wins += defaults[best] == *std::max_element(defaults.begin(), defaults.end());
    ++graphs;
    EXPECT_LT(std::abs(kendall_tau(defaults, cost)), 0.5) << g.id;
  }
  EXPECT_LT(default_wins, graphs / 2);
}

}  // namespace
}  // namespace gst
