// Graphs streamed through `gst shard` a block of configs at a time give the same store content
// as graphs held whole; failures while streaming leave no store.
#include <gtest/gtest.h>

#include <fstream>

#include "common/errors.h"
#include "data/graph_io.h"
#include "sharding/feature_stats.h"
#include "sharding/shard_collection.h"
#include "sharding/verify.h"
#include "store/hdf5.h"
#include "store/manifest.h"
#include "store/schema.h"
#include "store/segment_store.h"
#include "store/store_fixtures.h"
#include "test_support.h"

namespace gst {
namespace {

namespace fs = std::filesystem;
using testing::random_graph;
using testing::ScratchDir;

// Layout graphs with enough configs that a 1 MiB block holds only part of each.
std::vector<std::pair<std::string, Graph>> config_heavy_graphs(int count) {
  std::vector<std::pair<std::string, Graph>> out;
  const char* splits[] = {"train", "valid", "train", "test"};
  for (int i = 0; i < count; ++i) {
    Graph g = random_graph(Task::Layout, "g" + std::to_string(i), 900 + 700 * i, 150 + 61 * i, i);
    out.emplace_back(splits[i % 4], std::move(g));
  }
  return out;
}

constexpr int64_t kNever = int64_t{1} << 62;  // stream_above_bytes that holds every graph whole

ShardOptions options(const fs::path& out, int64_t stream_above, int workers) {
  ShardOptions o;
  o.out = out;
  o.collection = "layout:xla:random";
  o.input = "test";
  o.shards = 2;
  o.segment_size = 500;
  o.partitioner = Partitioner::Metis;
  o.workers = workers;
  o.memory_bytes = int64_t{64} << 20;  // 4 MiB blocks: several per graph
  o.stream_above_bytes = stream_above;
  return o;
}

// Every array a reader can get from the two stores is the same.
void expect_same_content(const fs::path& a, const fs::path& b) {
  auto sa = SegmentStore::open(a), sb = SegmentStore::open(b);
  const Manifest &ma = sa->manifest(), &mb = sb->manifest();
  ASSERT_EQ(ma.graphs.size(), mb.graphs.size());
  EXPECT_EQ(ma.node_columns.mean, mb.node_columns.mean);
  EXPECT_EQ(ma.node_columns.std, mb.node_columns.std);
  EXPECT_EQ(ma.config_columns.mean, mb.config_columns.mean);
  EXPECT_EQ(ma.config_columns.std, mb.config_columns.std);
  EXPECT_EQ(ma.config_columns.min, mb.config_columns.min);
  EXPECT_EQ(ma.config_columns.max, mb.config_columns.max);
  EXPECT_EQ(ma.config_columns.integer, mb.config_columns.integer);
  for (size_t g = 0; g < ma.graphs.size(); ++g) {
    const GraphEntry &ea = ma.graphs[g], &eb = mb.graphs[g];
    ASSERT_EQ(ea.id, eb.id);
    EXPECT_EQ(ea.shard, eb.shard);
    EXPECT_EQ(ea.segment_offsets, eb.segment_offsets);
    EXPECT_EQ(ea.cut_edges, eb.cut_edges);
    std::vector<int64_t> all(ea.num_configs);
    for (int64_t c = 0; c < ea.num_configs; ++c) all[c] = c;
    for (int64_t s = 0; s < ea.num_segments(); ++s) {
      Segment x = sa->load_segment(static_cast<int64_t>(g), s, all);
      Segment y = sb->load_segment(static_cast<int64_t>(g), s, all);
      EXPECT_EQ(x.node_feat, y.node_feat);
      EXPECT_EQ(x.edges, y.edges);
      EXPECT_EQ(x.cross_edges, y.cross_edges);
      EXPECT_EQ(x.config_nodes, y.config_nodes);
      ASSERT_EQ(x.config_feat, y.config_feat) << ea.id << " segment " << s;
    }
    testing::expect_same_graph(sa->load_original(static_cast<int64_t>(g)),
                               sb->load_original(static_cast<int64_t>(g)));
  }
}

TEST(StreamedShard, SameContentAsGraphsHeldWholeFromMemory) {
  ScratchDir whole("stream_mem_whole"), streamed("stream_mem_streamed");
  auto graphs = config_heavy_graphs(5);
  MemoryGraphSource source(Task::Layout, graphs);
  ShardSummary a = shard_collection(source, options(whole.path(), kNever, 2));
  EXPECT_EQ(a.streamed, 0);
  ShardSummary b = shard_collection(source, options(streamed.path(), 0, 2));
  EXPECT_EQ(b.streamed, 5);
  EXPECT_NE(b.line().find("5 streamed"), std::string::npos) << b.line();
  expect_same_content(whole.path(), streamed.path());
  EXPECT_TRUE(verify_store(streamed.path()).problems.empty());
  // The original config features come back exactly.
  auto store = SegmentStore::open(streamed.path());
  for (size_t g = 0; g < store->graphs().size(); ++g) {
    const Graph& in = std::find_if(graphs.begin(), graphs.end(), [&](const auto& p) {
                        return p.second.id == store->graphs()[g].id;
                      })->second;
    EXPECT_EQ(store->load_original(static_cast<int64_t>(g)).config_feat, in.config_feat);
  }
}

TEST(StreamedShard, SameContentFromStoredAndDeflatedNpzAndAnyWorkers) {
  ScratchDir dir("stream_npz");
  fs::path coll = dir / "npz/layout/xla/random";
  int i = 0;
  for (auto& [split, g] : config_heavy_graphs(4)) {
    fs::create_directories(coll / split);
    write_graph(coll / split / (g.id + ".npz"), g, i++ % 2 == 0);
  }
  CollectionSource source(coll, "", {"train", "valid", "test"});
  ShardSummary a = shard_collection(source, options(dir / "whole", kNever, 1));
  ShardSummary b = shard_collection(source, options(dir / "streamed1", 0, 1));
  ShardSummary c = shard_collection(source, options(dir / "streamed3", 0, 3));
  // Streamed only above 5 MB: a mix of both paths in one run.
  ShardSummary d = shard_collection(source, options(dir / "mixed", 5'000'000, 2));
  EXPECT_EQ(a.streamed, 0);
  EXPECT_EQ(b.streamed, 4);
  EXPECT_GT(d.streamed, 0);
  EXPECT_LT(d.streamed, 4);
  expect_same_content(dir / "whole", dir / "streamed1");
  expect_same_content(dir / "whole", dir / "streamed3");
  expect_same_content(dir / "whole", dir / "mixed");
  // Streaming writes the same bytes with any number of workers.
  Manifest m1 = Manifest::read(dir / "streamed1"), m3 = Manifest::read(dir / "streamed3");
  for (size_t s = 0; s < m1.shards.size(); ++s)
    EXPECT_EQ(m1.shards[s].checksum, m3.shards[s].checksum);
}

// Bytes per element of the config_feat a store keeps for segment s of graph g; 0 when empty.
size_t config_feat_element_size(const fs::path& store, const GraphEntry& g, int64_t s) {
  const fs::path shard = store / schema::shard_file_name(static_cast<int>(g.shard));
  h5::Handle file(GST_H5(H5Fopen(shard.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)));
  const std::string path = schema::segment_path(g.split, g.id, s) + "/" + schema::kConfigFeat;
  h5::Handle set(GST_H5(H5Dopen2(file, path.c_str(), H5P_DEFAULT)));
  h5::Handle type(GST_H5(H5Dget_type(set))), space(GST_H5(H5Dget_space(set)));
  return GST_H5(H5Sget_simple_extent_npoints(space)) == 0 ? 0 : GST_H5(H5Tget_size(type));
}

// Layout configs are kept as int8 codes; a graph with one value that is not an integer in
// [-128, 127] (here its last) is streamed again as float, with the same content as held whole.
TEST(StreamedShard, ConfigValuesThatAreNotInt8CodesStreamAgainAsFloat) {
  ScratchDir dir("stream_float");
  auto graphs = config_heavy_graphs(4);
  graphs[3].second.config_feat.back() = 0.25f;
  MemoryGraphSource source(Task::Layout, graphs);
  ShardSummary whole = shard_collection(source, options(dir / "whole", kNever, 1));
  ShardSummary streamed = shard_collection(source, options(dir / "streamed", 0, 2));
  EXPECT_EQ(streamed.streamed, 4);
  expect_same_content(dir / "whole", dir / "streamed");
  EXPECT_TRUE(verify_store(dir / "streamed").problems.empty());
  size_t with_nodes = 0;
  for (const GraphEntry& g : Manifest::read(dir / "streamed").graphs)
    for (int64_t s = 0; s < g.num_segments(); ++s) {
      const size_t size = config_feat_element_size(dir / "streamed", g, s);
      if (size == 0) continue;
      ++with_nodes;
      EXPECT_EQ(size, g.id == "g3" ? 4u : 1u) << g.id << " segment " << s;
    }
  EXPECT_GT(with_nodes, 4u);
}

TEST(StreamedShard, CorruptConfigFeatMidMemberFailsNamingFileAndLeavesNoStore) {
  ScratchDir dir("stream_corrupt");
  fs::path coll = dir / "npz/layout/xla/random";
  fs::create_directories(coll / "train");
  Graph g = random_graph(Task::Layout, "big", 2000, 400, 3);
  for (auto& f : g.config_feat) f = static_cast<float>(std::rand());  // poorly compressible
  fs::path bad = coll / "train" / "big.npz";
  write_graph(bad, g, true);
  write_graph(coll / "train" / "small.npz", random_graph(Task::Layout, "small", 300, 5, 4), true);
  // node_config_feat is the largest member: the middle of the file is inside its deflate data.
  std::string bytes;
  {
    std::ifstream in(bad, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  for (size_t i = bytes.size() / 2; i < bytes.size() / 2 + 256; ++i) bytes[i] ^= 0x33;
  std::ofstream(bad, std::ios::binary | std::ios::trunc) << bytes;
  CollectionSource source(coll, "", {"train"});
  try {
    shard_collection(source, options(dir / "store", 0, 2));
    FAIL() << "a corrupt node_config_feat must stop the run";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(bad.string() + ": node_config_feat"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "store"));
}

TEST(StreamedShard, FullDiskWhileStreamingNamesTheShardAndLeavesNoStore) {
  ScratchDir dir("stream_full");
  fs::path out = dir / "store";
  auto graphs = config_heavy_graphs(3);
  // A 2 MiB file size limit stands in for a full disk (config_feat is stored as int8 codes).
  const std::string text = testing::error_under_file_size_limit(2 << 20, [&] {
    MemoryGraphSource source(Task::Layout, graphs);
    ShardOptions o = options(out, 0, 1);
    o.compression_level = 0;
    shard_collection(source, o);
  });
  EXPECT_NE(text.find("HDF5"), std::string::npos) << text;
  EXPECT_NE(text.find("shard-0000"), std::string::npos) << text;
  EXPECT_NE(text.find("writing config_feat"), std::string::npos) << text;
  EXPECT_FALSE(fs::exists(out)) << text;
}

TEST(StreamedShard, MemoryPlanSharesTheBudget) {
  ShardOptions o;
  o.memory_bytes = int64_t{1} << 30;
  o.workers = 2;
  MemoryPlan p = memory_plan(o);
  EXPECT_EQ(p.cache_bytes, o.memory_bytes / 4);
  EXPECT_EQ(p.block_bytes, o.memory_bytes / 16);
  EXPECT_EQ(p.stream_above, o.memory_bytes / 48);  // 4 graphs in flight, about 3x each
  EXPECT_EQ(p.streams, 1);                         // one shard file
  // Several shards stream at once, up to the workers; their blocks share the quarter, and the
  // block size follows the shard count alone (the same bytes with any workers).
  o.shards = 4;
  EXPECT_EQ(memory_plan(o).streams, 2);
  EXPECT_EQ(memory_plan(o).block_bytes, o.memory_bytes / 64);
  o.workers = 16;
  EXPECT_EQ(memory_plan(o).streams, 4);
  EXPECT_EQ(memory_plan(o).block_bytes, o.memory_bytes / 64);
  o.shards = 100;
  EXPECT_EQ(memory_plan(o).streams, kMostStreams);
  o.shards = 1;
  o.workers = 2;
  o.stream_above_bytes = 0;
  EXPECT_EQ(memory_plan(o).stream_above, 0);
  o.memory_bytes = 1 << 20;
  EXPECT_THROW(shard_collection(MemoryGraphSource(Task::Layout, {}), o), InputError);
}

TEST(FeatureStats, BlockedStatsDoNotDependOnHowRowsArrive) {
  std::vector<float> rows(3 * 40000);
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<float>((i * 7919) % 1000) * 0.37f;
  BlockedFeatureStats whole(3);
  whole.add(rows.data(), 40000);
  ColumnStats a = whole.finish().summary();
  for (int64_t piece : {1, 999, 16384, 20000}) {
    BlockedFeatureStats parts(3);
    for (int64_t at = 0; at < 40000; at += piece)
      parts.add(rows.data() + at * 3, std::min<int64_t>(piece, 40000 - at));
    ColumnStats b = parts.finish().summary();
    EXPECT_EQ(a.mean, b.mean) << piece;
    EXPECT_EQ(a.std, b.std) << piece;
    EXPECT_EQ(a.min, b.min) << piece;
  }
}

}  // namespace
}  // namespace gst
