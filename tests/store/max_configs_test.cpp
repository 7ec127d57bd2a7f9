// `gst shard --max-configs N`: which configs a store keeps, the same on the in-memory and the
// streamed path, recorded in the manifest, and checked against the source files.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "common/errors.h"
#include "data/graph_io.h"
#include "sharding/config_subset.h"
#include "sharding/shard_collection.h"
#include "sharding/verify.h"
#include "store/manifest.h"
#include "store/segment_store.h"
#include "store/store_fixtures.h"
#include "test_support.h"

namespace gst {
namespace {

namespace fs = std::filesystem;
using testing::random_graph;
using testing::ScratchDir;

constexpr int64_t kNever = int64_t{1} << 62;

TEST(ConfigSubset, KeepsFastestThirdSlowestThirdAndASeededMiddle) {
  std::vector<double> runtime;
  for (int c = 0; c < 300; ++c) runtime.push_back((c * 7919) % 1000 + 0.5);  // all distinct
  std::vector<int64_t> keep = choose_configs(runtime, 31, 0, "graph");
  ASSERT_EQ(keep.size(), 31u);
  EXPECT_TRUE(std::is_sorted(keep.begin(), keep.end()));
  EXPECT_EQ(std::set<int64_t>(keep.begin(), keep.end()).size(), 31u);
  std::vector<int64_t> by_runtime(runtime.size());
  for (size_t c = 0; c < runtime.size(); ++c) by_runtime[c] = static_cast<int64_t>(c);
  std::sort(by_runtime.begin(), by_runtime.end(),
            [&](int64_t a, int64_t b) { return runtime[a] < runtime[b]; });
  std::set<int64_t> kept(keep.begin(), keep.end());
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(kept.count(by_runtime[i])) << "fastest " << i;
    EXPECT_TRUE(kept.count(by_runtime[by_runtime.size() - 1 - i])) << "slowest " << i;
  }
  // 11 from the middle, drawn by seed and graph id.
  EXPECT_EQ(choose_configs(runtime, 31, 0, "graph"), keep);
  EXPECT_NE(choose_configs(runtime, 31, 1, "graph"), keep);
  EXPECT_NE(choose_configs(runtime, 31, 0, "other"), keep);
  // A fixed draw, whatever the standard library: this list must never change.
  // Config 9 is the fastest, config 5 the slowest, 3 and 7 the draw from the middle.
  EXPECT_EQ(choose_configs({5, 1, 4, 2, 3, 9, 8, 7, 6, 0}, 4, 0, "g"),
            (std::vector<int64_t>{3, 5, 7, 9}));
  // At most N configs: all kept.
  EXPECT_EQ(choose_configs({3, 2, 1}, 3, 0, "g"), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(choose_configs({3, 2, 1}, 0, 0, "g"), (std::vector<int64_t>{0, 1, 2}));
  // N = 2: floor(2/3) = 0, so both are drawn from all configs (as the baseline's rule does).
  EXPECT_EQ(choose_configs({3, 2, 1, 5, 4}, 2, 0, "g").size(), 2u);
}

TEST(ConfigSubset, KeepConfigsCutsRuntimesNormalizersAndRows) {
  Graph tile = random_graph(Task::Tile, "t", 10, 9, 1);
  Graph cut = tile;
  keep_configs(&cut, {1, 4, 8});
  ASSERT_EQ(cut.num_configs(), 3);
  int k = 0;
  for (int64_t c : {1, 4, 8}) {
    EXPECT_EQ(cut.runtime[k], tile.runtime[c]);
    EXPECT_EQ(cut.runtime_normalizer[k], tile.runtime_normalizer[c]);
    EXPECT_TRUE(std::equal(cut.config_feat.begin() + k * 24, cut.config_feat.begin() + k * 24 + 24,
                           tile.config_feat.begin() + c * 24));
    ++k;
  }
}

std::vector<std::pair<std::string, Graph>> graphs_with_many_configs() {
  std::vector<std::pair<std::string, Graph>> out;
  const char* splits[] = {"train", "valid", "train", "test"};
  for (int i = 0; i < 4; ++i) {
    // g3 has only 20 configs: fewer than N, kept whole.
    Graph g = random_graph(Task::Layout, "g" + std::to_string(i), 700 + 500 * i,
                           i == 3 ? 20 : 90 + 37 * i, 20 + i);
    out.emplace_back(splits[i], std::move(g));
  }
  return out;
}

ShardOptions options(const fs::path& out, int64_t stream_above, int64_t max_configs) {
  ShardOptions o;
  o.out = out;
  o.collection = "layout:xla:random";
  o.input = "test";
  o.shards = 2;
  o.segment_size = 400;
  o.workers = 2;
  o.memory_bytes = int64_t{64} << 20;
  o.stream_above_bytes = stream_above;
  o.max_configs = max_configs;
  o.max_configs_seed = 11;
  return o;
}

// The store holds exactly the chosen configs of each source graph, in the source's order.
void expect_kept_configs(const fs::path& store_dir,
                         const std::vector<std::pair<std::string, Graph>>& graphs,
                         int64_t max_configs, uint64_t seed) {
  auto store = SegmentStore::open(store_dir);
  const Manifest& m = store->manifest();
  EXPECT_EQ(m.options.max_configs, max_configs);
  EXPECT_EQ(m.options.max_configs_seed, seed);
  EXPECT_TRUE(verify_store(store_dir).problems.empty());
  for (const auto& [split, source] : graphs) {
    auto it = std::find_if(m.graphs.begin(), m.graphs.end(),
                           [&](const GraphEntry& e) { return e.id == source.id; });
    ASSERT_NE(it, m.graphs.end());
    std::vector<int64_t> keep = choose_configs(source.runtime, max_configs, seed, source.id);
    EXPECT_EQ(it->source_configs, source.num_configs());
    EXPECT_EQ(it->num_configs, static_cast<int64_t>(keep.size()));
    EXPECT_EQ(it->num_configs, std::min(source.num_configs(), max_configs));
    Graph expected = source;
    keep_configs(&expected, keep);
    testing::expect_same_graph(store->load_original(it->index), expected);
  }
}

TEST(MaxConfigs, InMemoryAndStreamedPathsKeepTheSameConfigs) {
  ScratchDir whole("maxcfg_whole"), streamed("maxcfg_streamed"), all("maxcfg_all");
  auto graphs = graphs_with_many_configs();
  MemoryGraphSource source(Task::Layout, graphs);
  ShardSummary a = shard_collection(source, options(whole.path(), kNever, 50));
  ShardSummary b = shard_collection(source, options(streamed.path(), 0, 50));
  EXPECT_EQ(a.streamed, 0);
  EXPECT_EQ(b.streamed, 4);
  EXPECT_EQ(a.subset, 3);
  EXPECT_NE(a.line().find("3 cut to their kept configs"), std::string::npos) << a.line();
  expect_kept_configs(whole.path(), graphs, 50, 11);
  expect_kept_configs(streamed.path(), graphs, 50, 11);
  // Same manifest statistics and the same shard bytes of everything but where HDF5 put chunks:
  // compare what a reader gets.
  Manifest ma = Manifest::read(whole.path()), mb = Manifest::read(streamed.path());
  EXPECT_EQ(ma.config_columns.mean, mb.config_columns.mean);
  EXPECT_EQ(ma.config_columns.std, mb.config_columns.std);
  // Without the option: every config, and the manifest says so.
  shard_collection(source, options(all.path(), kNever, 0));
  Manifest mc = Manifest::read(all.path());
  EXPECT_EQ(mc.options.max_configs, 0);
  for (const auto& e : mc.graphs) EXPECT_EQ(e.source_configs, e.num_configs);
}

TEST(MaxConfigs, SameStoreTwiceAndFromNpzFilesStreamedOrNot) {
  ScratchDir dir("maxcfg_npz");
  fs::path coll = dir / "npz/layout/xla/random";
  auto graphs = graphs_with_many_configs();
  int i = 0;
  for (auto& [split, g] : graphs) {
    fs::create_directories(coll / split);
    write_graph(coll / split / (g.id + ".npz"), g, i++ % 2 == 0);
  }
  CollectionSource source(coll, "", {"train", "valid", "test"});
  // A cache of 0 bytes: the write pass reads every graph again and must choose the same configs.
  ShardOptions no_cache = options(dir / "a", kNever, 40);
  no_cache.cache_bytes = 0;
  shard_collection(source, no_cache);
  shard_collection(source, options(dir / "b", kNever, 40));
  shard_collection(source, options(dir / "c", 0, 40));
  // The graphs as read back from their files are what the stores were made from.
  std::vector<std::pair<std::string, Graph>> from_files;
  for (const auto& [split, g] : graphs)
    from_files.emplace_back(split, read_graph(coll / split / (g.id + ".npz"), Task::Layout));
  for (const char* store : {"a", "b", "c"}) expect_kept_configs(dir / store, from_files, 40, 11);
  Manifest ma = Manifest::read(dir / "a"), mb = Manifest::read(dir / "b");
  for (size_t s = 0; s < ma.shards.size(); ++s)
    EXPECT_EQ(ma.shards[s].checksum, mb.shards[s].checksum);
}

TEST(MaxConfigs, TileKeepsRowsAndNormalizers) {
  ScratchDir dir("maxcfg_tile");
  std::vector<std::pair<std::string, Graph>> graphs;
  for (int i = 0; i < 3; ++i)
    graphs.emplace_back("train", random_graph(Task::Tile, "t" + std::to_string(i), 12, 40 + i, i));
  MemoryGraphSource source(Task::Tile, graphs);
  ShardOptions o = options(dir / "store", kNever, 9);
  o.collection = "tile:xla";
  shard_collection(source, o);
  expect_kept_configs(dir / "store", graphs, 9, 11);
}

TEST(MaxConfigs, BelowTwoIsAnErrorNamingTheOption) {
  ScratchDir dir("maxcfg_bad");
  MemoryGraphSource source(Task::Layout, graphs_with_many_configs());
  for (int64_t n : {1, -3}) {
    try {
      shard_collection(source, options(dir / "store", kNever, n));
      FAIL() << n;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("--max-configs"), std::string::npos) << e.what();
    }
  }
  for (const char* n : {"1", "0", "-2"}) {
    auto r =
        testing::run_command(testing::gst_binary() + " shard --input " + dir.path().string() +
                             " --out " + (dir / "x").string() + " --max-configs " + n + " 2>&1");
    EXPECT_NE(r.exit_code, 0) << n;
    EXPECT_NE(r.output.find("--max-configs"), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace gst
