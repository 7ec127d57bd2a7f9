// The segment store end to end: shard writer -> HDF5 shards + manifest -> SegmentStore reader.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>

#include "common/errors.h"
#include "sharding/shard_collection.h"
#include "sharding/verify.h"
#include "store/checksum.h"
#include "store/chunk_codec.h"
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

TEST(Checksum, Xxh64KnownVectorsAndStreaming) {
  EXPECT_EQ(xxh64("", 0), 0xEF46DB3751D8E999ULL);
  EXPECT_EQ(xxh64("a", 1), 0xD24EC4F1A98C6E5BULL);
  EXPECT_EQ(xxh64("abc", 3), 0x44BC2CF5AD770999ULL);
  std::string text = "Nobody inspects the spammish repetition";
  EXPECT_EQ(xxh64(text.data(), text.size()), 0xFBCEA83C8A378BF1ULL);
  std::string big(1000, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31 + 7);
  for (size_t step : {1, 3, 31, 32, 33, 500}) {
    Xxh64 state;
    for (size_t at = 0; at < big.size(); at += step)
      state.update(big.data() + at, std::min(step, big.size() - at));
    EXPECT_EQ(state.digest(), xxh64(big.data(), big.size())) << "step " << step;
  }
}

TEST(ChunkCodec, EncodedChunksDecodeToPaddedRows) {
  std::vector<float> values(7 * 3);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.5f;
  EncodedDataset d = encode_dataset("x", values, {7, 3}, 3, 4);
  ASSERT_EQ(d.chunks.size(), 3u);
  std::vector<uint8_t> last = decode_chunk(d.chunks[2], sizeof(float), 3 * 3 * sizeof(float), 4);
  const float* rows = reinterpret_cast<const float*>(last.data());
  EXPECT_EQ(rows[0], values[18]);
  EXPECT_EQ(rows[2], values[20]);
  EXPECT_EQ(rows[3], 0.0f);  // padding of the edge chunk
}

// Chunks written by HDF5's own shuffle + deflate filters (zlib: h5py's files, stores of earlier
// gst versions) read back through the chunk codec (libdeflate), rows and all; a flipped byte in
// a deflated chunk is an error, not wrong values.
TEST(ChunkCodec, ReadsChunksDeflatedByHdf5ItselfAndRejectsACorruptOne) {
  ScratchDir dir("hdf5_filters");
  const std::string path = (dir / "x.h5").string();
  std::vector<float> values(40 * 18);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 7) - 1.0f;
  {
    hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    const hsize_t dims[2] = {40, 18}, chunk[2] = {16, 18};
    hid_t space = H5Screate_simple(2, dims, nullptr), plist = H5Pcreate(H5P_DATASET_CREATE);
    ASSERT_GE(H5Pset_chunk(plist, 2, chunk), 0);
    ASSERT_GE(H5Pset_shuffle(plist), 0);
    ASSERT_GE(H5Pset_deflate(plist, 6), 0);
    hid_t set = H5Dcreate2(file, "x", H5T_NATIVE_FLOAT, space, H5P_DEFAULT, plist, H5P_DEFAULT);
    ASSERT_GE(set, 0);
    ASSERT_GE(H5Dwrite(set, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
    H5Dclose(set);
    H5Pclose(plist);
    H5Sclose(space);
    H5Fclose(file);
  }
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  std::vector<int64_t> shape;
  EXPECT_EQ(read_direct<float>(file, "x", &shape), values);
  EXPECT_EQ(shape, (std::vector<int64_t>{40, 18}));
  const std::vector<float> rows = read_rows_direct<float>(file, "x", {39, 0, 17});
  ASSERT_EQ(rows.size(), 3u * 18);
  EXPECT_EQ(rows[0], values[39 * 18]);
  EXPECT_EQ(rows[2 * 18 + 5], values[17 * 18 + 5]);
  H5Fclose(file);

  std::vector<float> chunk_values(16 * 18, 2.0f);
  EncodedDataset d = encode_dataset("y", chunk_values, {16, 18}, 16, 2);
  std::vector<uint8_t> bad = d.chunks[0];
  bad[bad.size() / 2] ^= 0x40;
  EXPECT_THROW(decode_chunk(bad, sizeof(float), 16 * 18 * sizeof(float), 2), Error);
  EXPECT_THROW(decode_chunk(d.chunks[0], sizeof(float), 17 * 18 * sizeof(float), 2), Error);
}

// int8 codes hold exactly the floats that are integers in [-128, 127]; a dataset of them reads
// back as the same floats, whole or by rows, and h5py-style readers see plain int8.
TEST(ChunkCodec, Int8CodesRoundTripExactlyAndRefuseOtherValues) {
  const std::vector<float> fit{-1.0f, 0.0f, 5.0f, -128.0f, 127.0f};
  std::vector<int8_t> codes(fit.size());
  ASSERT_TRUE(narrow_to_int8(fit.data(), fit.size(), codes.data()));
  EXPECT_EQ(codes, (std::vector<int8_t>{-1, 0, 5, -128, 127}));
  for (float bad : {0.5f, 128.0f, -129.0f, -0.0f, std::nanf(""), 1e30f}) {
    const std::vector<float> one{3.0f, bad, 2.0f};
    EXPECT_FALSE(narrow_to_int8(one.data(), one.size(), codes.data())) << bad;
  }

  ScratchDir dir("int8_codes");
  const std::string path = (dir / "x.h5").string();
  std::vector<int8_t> stored(40 * 18);
  for (size_t i = 0; i < stored.size(); ++i) stored[i] = static_cast<int8_t>(i % 9) - 1;
  for (int level : {0, 2}) {
    EncodedDataset d = encode_dataset("x", stored, {40, 18}, 16, level);
    hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    write_encoded(file, d);
    std::vector<int64_t> shape;
    std::vector<float> all = read_direct<float>(file, "x", &shape);
    EXPECT_EQ(shape, (std::vector<int64_t>{40, 18}));
    ASSERT_EQ(all.size(), stored.size());
    for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], stored[i]) << i;
    const std::vector<float> rows = read_rows_direct<float>(file, "x", {39, 0, 17});
    EXPECT_EQ(rows[0], stored[39 * 18]);
    EXPECT_EQ(rows[2 * 18 + 5], stored[17 * 18 + 5]);
    std::vector<int8_t> plain(stored.size());  // what HDF5 itself reads
    hid_t set = H5Dopen2(file, "x", H5P_DEFAULT);
    ASSERT_GE(H5Dread(set, H5T_NATIVE_INT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, plain.data()), 0);
    H5Dclose(set);
    EXPECT_EQ(plain, stored);
    H5Fclose(file);
  }
}

// Shards `graphs` (split, graph) into `dir` and returns the summary.
ShardSummary shard(const fs::path& dir, Task task,
                   std::vector<std::pair<std::string, Graph>> graphs, Partitioner partitioner,
                   int64_t K, int shards = 2, int workers = 2, bool overwrite = false,
                   int64_t cache_bytes = int64_t{1} << 30) {
  MemoryGraphSource source(task, std::move(graphs));
  ShardOptions o;
  o.out = dir;
  o.collection = task == Task::Layout ? "layout:xla:random" : "tile:xla";
  o.input = "memory";
  o.shards = shards;
  o.segment_size = K;
  o.partitioner = partitioner;
  o.workers = workers;
  o.overwrite = overwrite;
  o.cache_bytes = cache_bytes;
  return shard_collection(source, o);
}

std::vector<std::pair<std::string, Graph>> mixed_graphs(Task task, int count, uint64_t seed) {
  std::vector<std::pair<std::string, Graph>> out;
  const char* splits[] = {"train", "train", "valid", "test"};
  for (int i = 0; i < count; ++i) {
    int64_t nodes = task == Task::Layout ? 50 + (i * 977 + seed) % 3000 : 5 + i % 40;
    int64_t configs = 3 + (i * 7) % 20;
    Graph g = random_graph(task, "graph_" + std::to_string(i), nodes, configs, seed * 100 + i);
    if (i % 3 == 0) g.node_splits = {0, nodes / 2};
    out.emplace_back(splits[i % 4], std::move(g));
  }
  return out;
}

class RoundTrip : public ::testing::TestWithParam<std::tuple<Task, Partitioner>> {};

TEST_P(RoundTrip, StoreReproducesEveryGraph) {
  auto [task, partitioner] = GetParam();
  ScratchDir dir("store_roundtrip");
  auto graphs = mixed_graphs(task, 9, 1);
  // K small enough that layout graphs have several segments, tile graphs too for the big ones.
  int64_t K = task == Task::Layout ? 400 : 16;
  ShardSummary summary = shard(dir.path(), task, graphs, partitioner, K, 3);
  EXPECT_EQ(summary.graphs, 9);
  auto store = SegmentStore::open(dir.path());
  ASSERT_EQ(store->graphs().size(), 9u);
  for (const auto& [split, original] : graphs) {
    int64_t index = -1;
    for (const auto& e : store->graphs())
      if (e.id == original.id) index = e.index;
    ASSERT_GE(index, 0) << original.id;
    const GraphEntry& e = store->graphs()[index];
    EXPECT_EQ(e.split, split);
    EXPECT_EQ(e.num_nodes, original.num_nodes);
    EXPECT_EQ(e.num_edges, original.num_edges());
    EXPECT_EQ(e.num_configs, original.num_configs());
    SCOPED_TRACE(original.id);
    testing::expect_same_graph(store->load_original(index), original);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Store, RoundTrip,
    ::testing::Combine(::testing::Values(Task::Layout, Task::Tile),
                       ::testing::Values(Partitioner::Contiguous, Partitioner::Metis)),
    [](const auto& info) {
      return std::string(std::get<0>(info.param) == Task::Layout ? "Layout" : "Tile") +
             (std::get<1>(info.param) == Partitioner::Metis ? "Metis" : "Contiguous");
    });

TEST(SegmentStore, LoadsOneSegmentWithAChosenSubsetOfConfigs) {
  ScratchDir dir("store_segment");
  Graph g = random_graph(Task::Layout, "big", 3000, 40, 5);
  shard(dir.path(), Task::Layout, {{"train", g}}, Partitioner::Metis, 1000, 1);
  auto store = SegmentStore::open(dir.path());
  const GraphEntry& e = store->graphs()[0];
  ASSERT_EQ(e.num_segments(), 3);
  std::vector<int64_t> original = store->load_original_node_ids(0);
  std::vector<int64_t> renum(g.num_nodes);
  for (int64_t v = 0; v < g.num_nodes; ++v) renum[original[v]] = v;
  std::vector<int64_t> configs = {39, 0, 7, 8, 9, 7, 21};  // any order, repeats
  int64_t total_config_nodes = 0;
  for (int64_t s = 0; s < 3; ++s) {
    Segment seg = store->load_segment(0, s, configs);
    EXPECT_EQ(seg.first_node, e.segment_offsets[s]);
    ASSERT_EQ(seg.num_nodes, e.segment_offsets[s + 1] - e.segment_offsets[s]);
    for (int64_t i = 0; i < seg.num_nodes; ++i) {
      int64_t v = original[seg.first_node + i];
      ASSERT_EQ(seg.node_opcode[i], g.node_opcode[v]);
      ASSERT_EQ(seg.node_feat[i * kNodeFeatureDim + 5], g.node_feat[v * kNodeFeatureDim + 5]);
    }
    const int64_t m = static_cast<int64_t>(seg.config_nodes.size());
    total_config_nodes += m;
    ASSERT_EQ(seg.config_feat.size(), configs.size() * m * kLayoutConfigDim);
    for (int64_t j = 0; j < m; ++j) {
      int64_t node = original[seg.first_node + seg.config_nodes[j]];
      int64_t pos = std::find(g.config_node_ids.begin(), g.config_node_ids.end(), node) -
                    g.config_node_ids.begin();
      ASSERT_LT(pos, g.num_config_nodes());
      for (size_t k = 0; k < configs.size(); ++k)
        for (int d = 0; d < kLayoutConfigDim; ++d)
          ASSERT_EQ(
              seg.config_feat[(k * m + j) * kLayoutConfigDim + d],
              g.config_feat[(configs[k] * g.num_config_nodes() + pos) * kLayoutConfigDim + d]);
    }
    // Local edges map back to original edges; cross edges have one end here.
    auto all = testing::edge_multiset(g.edges);
    for (size_t k = 0; k < seg.edges.size(); k += 2) {
      std::pair<int64_t, int64_t> edge{original[seg.first_node + seg.edges[k]],
                                       original[seg.first_node + seg.edges[k + 1]]};
      ASSERT_TRUE(std::binary_search(all.begin(), all.end(), edge));
    }
    for (size_t k = 0; k < seg.cross_edges.size(); k += 2) {
      bool a_in = seg.cross_edges[k] >= seg.first_node &&
                  seg.cross_edges[k] < seg.first_node + seg.num_nodes;
      bool b_in = seg.cross_edges[k + 1] >= seg.first_node &&
                  seg.cross_edges[k + 1] < seg.first_node + seg.num_nodes;
      EXPECT_NE(a_in, b_in);
    }
  }
  EXPECT_EQ(total_config_nodes, g.num_config_nodes());
  EXPECT_THROW(store->load_segment(0, 3, configs), Error);
  EXPECT_THROW(store->load_segment(0, 0, {40}), Error);
  GraphConfigs c = store->load_configs(0);
  EXPECT_EQ(c.runtime, g.runtime);
  EXPECT_TRUE(c.normalizer.empty());
}

// The [chunks, 2] table of chunk places beside a segment's config_feat, read or rewritten with
// HDF5 alone (as another tool would).
std::vector<uint64_t> chunk_places(const fs::path& shard_file, const std::string& segment,
                                   const std::vector<uint64_t>* replace = nullptr) {
  const std::string name = schema::chunk_places_name(segment + "/" + schema::kConfigFeat);
  h5::Handle file(
      GST_H5(H5Fopen(shard_file.c_str(), replace ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT)));
  h5::Handle table(GST_H5(H5Dopen2(file, name.c_str(), H5P_DEFAULT)));
  std::vector<uint64_t> values(2 * h5::dataset_shape(table)[0]);
  if (replace)
    GST_H5(H5Dwrite(table, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, replace->data()));
  GST_H5(H5Dread(table, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()));
  return values;
}

// Sampled configs come through the chunk table, one round of reads for the table and one for the
// chunks; without the table (stores written before it) through HDF5's chunk index: the same rows.
TEST(ChunkPlaces, ReadsTheSameRowsWithOrWithoutTheTable) {
  ScratchDir dir("store_chunk_places");
  Graph g = random_graph(Task::Layout, "big", 2000, 300, 9);
  shard(dir.path(), Task::Layout, {{"train", g}}, Partitioner::Contiguous, 1000, 1);
  const std::vector<int64_t> configs = {299, 0, 7, 8, 9, 7, 21, 150, 298};
  std::vector<Segment> with_table;
  {
    auto store = SegmentStore::open(dir.path());
    for (int64_t s = 0; s < 2; ++s) with_table.push_back(store->load_segment(0, s, configs));
  }
  const fs::path file = dir / Manifest::read(dir.path()).shards[0].file;
  for (int64_t s = 0; s < 2; ++s) {
    const std::string segment = schema::segment_path("train", "big", s);
    EXPECT_GE(chunk_places(file, segment).size(), 2u * 300 / 4);  // a few rows per chunk at most
    h5::Handle f(GST_H5(H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)));
    const std::string name = schema::chunk_places_name(segment + "/" + schema::kConfigFeat);
    GST_H5(H5Ldelete(f, name.c_str(), H5P_DEFAULT));
  }
  auto store = SegmentStore::open(dir.path());
  for (int64_t s = 0; s < 2; ++s) {
    Segment without = store->load_segment(0, s, configs);
    ASSERT_FALSE(without.config_feat.empty());
    EXPECT_EQ(without.config_feat, with_table[s].config_feat) << "segment " << s;
  }
}

// A table entry that points outside the file or at other bytes: reading is an InputError naming
// the shard and the fix, and verify names the table and the chunk.
TEST(ChunkPlaces, DamagedTableIsAnInputErrorAndVerifyNamesIt) {
  ScratchDir dir("store_chunk_places_damaged");
  shard(dir.path(), Task::Layout, {{"train", random_graph(Task::Layout, "g", 900, 200, 4)}},
        Partitioner::Contiguous, 1000, 1);
  const fs::path file = dir / Manifest::read(dir.path()).shards[0].file;
  const std::string segment = schema::segment_path("train", "g", 0);
  std::vector<uint64_t> places = chunk_places(file, segment);
  ASSERT_EQ(verify_store(dir.path()).problems.size(), 0u);
  for (uint64_t bad_offset : {uint64_t{fs::file_size(file)} + 100, uint64_t{0}}) {
    std::vector<uint64_t> damaged = places;
    damaged[2 * 5] = bad_offset;  // chunk 5
    chunk_places(file, segment, &damaged);
    try {
      SegmentStore::open(dir.path())->load_segment(0, 0, {1, 5, 9});
      ADD_FAILURE() << "a damaged chunk table gave no error";
    } catch (const InputError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(file.filename().string()), std::string::npos) << message;
      EXPECT_NE(message.find("chunk 5"), std::string::npos) << message;
      EXPECT_NE(message.find("gst shard --verify"), std::string::npos) << message;
    }
    VerifyReport report = verify_store(dir.path());
    bool named = false;
    for (const auto& p : report.problems)
      named |= p.find("config_feat_chunks places chunk 5 at offset " +
                      std::to_string(bad_offset)) != std::string::npos;
    EXPECT_TRUE(named) << ::testing::PrintToString(report.problems);
  }
}

TEST(SegmentStore, ManifestCountsSplitsAndTrainOnlyFeatureStats) {
  ScratchDir dir("store_manifest");
  auto graphs = mixed_graphs(Task::Layout, 12, 2);
  ShardSummary summary = shard(dir.path(), Task::Layout, graphs, Partitioner::Contiguous, 500, 3);
  Manifest m = Manifest::read(dir.path());
  EXPECT_EQ(m.collection, "layout:xla:random");
  EXPECT_EQ(m.partitioner, "contiguous");
  EXPECT_EQ(m.segment_size, 500);
  EXPECT_EQ(m.split_counts.at("train"), 6);
  EXPECT_EQ(m.split_counts.at("valid"), 3);
  EXPECT_EQ(m.split_counts.at("test"), 3);
  ASSERT_EQ(m.shards.size(), 3u);
  int64_t listed = 0;
  for (size_t s = 0; s < m.shards.size(); ++s) {
    listed += m.shards[s].graphs.size();
    EXPECT_EQ(m.shards[s].checksum, file_checksum(dir.path() / m.shards[s].file));
  }
  EXPECT_EQ(listed, 12);
  EXPECT_EQ(m.cut_edges, summary.cut_edges);
  // Column statistics over train nodes only.
  ASSERT_EQ(m.node_columns.mean.size(), static_cast<size_t>(kNodeFeatureDim));
  for (int c : {0, 3, 5}) {
    double sum = 0, sq = 0, n = 0;
    for (const auto& [split, g] : graphs)
      if (split == "train")
        for (int64_t v = 0; v < g.num_nodes; ++v) {
          sum += g.node_feat[v * kNodeFeatureDim + c];
          n += 1;
        }
    double mean = sum / n;
    for (const auto& [split, g] : graphs)
      if (split == "train")
        for (int64_t v = 0; v < g.num_nodes; ++v)
          sq += std::pow(g.node_feat[v * kNodeFeatureDim + c] - mean, 2);
    EXPECT_NEAR(m.node_columns.mean[c], mean, 1e-5 * (1 + std::fabs(mean)));
    EXPECT_NEAR(m.node_columns.std[c], std::sqrt(sq / n), 1e-3 * (1 + std::sqrt(sq / n)));
  }
  EXPECT_EQ(m.node_columns.std[0], 0.0f);  // a constant column
  auto store = SegmentStore::open(dir.path());
  EXPECT_EQ(store->split("train").size(), 6u);
  EXPECT_TRUE(store->split("nope").empty());
}

TEST(SegmentStore, ShardsBalanceWorkOnFiftyMixedGraphs) {
  ScratchDir dir("store_balance");
  std::vector<std::pair<std::string, Graph>> graphs;
  for (int i = 0; i < 56; ++i) {
    int64_t nodes = 20 + (i * 7919) % 2000;
    int64_t configs = 2 + (i * 31) % 30;
    graphs.emplace_back("train",
                        random_graph(Task::Layout, "g" + std::to_string(i), nodes, configs, i));
  }
  shard(dir.path(), Task::Layout, graphs, Partitioner::Contiguous, 1000, 4);
  Manifest m = Manifest::read(dir.path());
  double total = 0, max = 0;
  for (const auto& s : m.shards) {
    int64_t work = 0;
    for (int64_t g : s.graphs) work += m.graphs[g].work();
    EXPECT_EQ(work, s.work);
    total += work;
    max = std::max<double>(max, work);
  }
  double ratio = max / (total / m.shards.size());
  std::printf("max/mean shard work: %.4f\n", ratio);
  EXPECT_LE(ratio, 1.1);
}

TEST(SegmentStore, SameInputGivesByteIdenticalShardsWithAnyWorkersOrCache) {
  ScratchDir a("store_det_a"), b("store_det_b");
  auto graphs = mixed_graphs(Task::Layout, 8, 3);
  shard(a.path(), Task::Layout, graphs, Partitioner::Metis, 300, 2, 1);
  shard(b.path(), Task::Layout, graphs, Partitioner::Metis, 300, 2, 3, false, 0);
  Manifest ma = Manifest::read(a.path()), mb = Manifest::read(b.path());
  for (size_t s = 0; s < ma.shards.size(); ++s)
    EXPECT_EQ(ma.shards[s].checksum, mb.shards[s].checksum);
}

TEST(SegmentStore, RefusesExistingStoreUnlessOverwrite) {
  ScratchDir dir("store_overwrite");
  shard(dir.path(), Task::Tile, mixed_graphs(Task::Tile, 6, 1), Partitioner::Contiguous, 100, 4);
  EXPECT_TRUE(fs::exists(dir / "shard-00003.h5"));
  try {
    shard(dir.path(), Task::Tile, mixed_graphs(Task::Tile, 6, 1), Partitioner::Contiguous, 100, 4);
    FAIL() << "rerun into a complete store must refuse";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--overwrite"), std::string::npos) << e.what();
  }
  shard(dir.path(), Task::Tile, mixed_graphs(Task::Tile, 4, 2), Partitioner::Contiguous, 100, 2, 2,
        true);
  EXPECT_FALSE(fs::exists(dir / "shard-00003.h5")) << "stale shard of the old store left";
  EXPECT_EQ(SegmentStore::open(dir.path())->graphs().size(), 4u);
  EXPECT_TRUE(verify_store(dir.path()).problems.empty());
}

TEST(SegmentStore, DifferentFormatVersionIsAClearError) {
  ScratchDir dir("store_version");
  shard(dir.path(), Task::Tile, mixed_graphs(Task::Tile, 2, 1), Partitioner::Contiguous, 100, 1);
  fs::path manifest = dir / "manifest.json";
  std::ifstream in(manifest);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string current = fmt::format("\"format_version\": {}", kStoreFormatVersion);
  size_t at = text.find(current);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, current.size(), "\"format_version\": 99");
  std::ofstream(manifest) << text;
  try {
    SegmentStore::open(dir.path());
    FAIL() << "a version-99 store must not open";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("format version 99"), std::string::npos) << e.what();
  }
}

// Files of a store directory other than the probe of a run.
std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  if (!fs::exists(dir)) return names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(ShardFailures, InjectedFailureLeavesNoStoreAndNoTemporaryFiles) {
  ScratchDir dir("store_fail");
  fs::path out = dir / "store";
  setenv("GST_FAULT", "fail:shard.file-written,at=2", 1);
  EXPECT_THROW(
      shard(out, Task::Layout, mixed_graphs(Task::Layout, 6, 1), Partitioner::Contiguous, 500, 3),
      Error);
  unsetenv("GST_FAULT");
  EXPECT_TRUE(listing(out).empty()) << "left: " << ::testing::PrintToString(listing(out));
  EXPECT_THROW(SegmentStore::open(out), InputError);
}

TEST(ShardFailures, KilledWriterLeavesNoCompleteLookingStore) {
  ScratchDir dir("store_kill");
  fs::path out = dir / "store";
  auto graphs = mixed_graphs(Task::Layout, 6, 1);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    setenv("GST_FAULT", "kill:shard.file-written,at=1", 1);
    try {
      shard(out, Task::Layout, graphs, Partitioner::Contiguous, 500, 3, 1);
    } catch (...) {
    }
    _exit(0);  // not reached when the fault fires
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  EXPECT_FALSE(fs::exists(out / "manifest.json"));
  EXPECT_THROW(SegmentStore::open(out), InputError);
  EXPECT_FALSE(verify_store(out).problems.empty());
  // A rerun is not refused, cleans the killed run's temporaries and completes.
  shard(out, Task::Layout, graphs, Partitioner::Contiguous, 500, 3);
  EXPECT_EQ(listing(out), (std::vector<std::string>{"manifest.json", "shard-00000.h5",
                                                    "shard-00001.h5", "shard-00002.h5"}));
  EXPECT_TRUE(verify_store(out).problems.empty());
}

TEST(ShardFailures, FullDiskIsAnErrorAndLeavesNoPartialStore) {
  ScratchDir dir("store_full");
  fs::path out = dir / "store";
  auto graphs = mixed_graphs(Task::Layout, 6, 1);
  // A 64 KiB file size limit stands in for a full disk.
  const std::string text = testing::error_under_file_size_limit(
      64 * 1024, [&] { shard(out, Task::Layout, graphs, Partitioner::Contiguous, 500, 2, 1); });
  EXPECT_NE(text.find("HDF5"), std::string::npos) << text;
  EXPECT_TRUE(listing(out).empty()) << ::testing::PrintToString(listing(out));
}

TEST(ShardFailures, UnwritableStoreDirectoryIsAClearError) {
  ScratchDir dir("store_unwritable");
  std::ofstream(dir / "file") << "x";
  try {
    shard(dir / "file" / "store", Task::Tile, mixed_graphs(Task::Tile, 2, 1),
          Partitioner::Contiguous, 100, 1);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot create store directory"), std::string::npos)
        << e.what();
  }
}

TEST(ShardFailures, BadGraphStopsTheRunOrIsSkipped) {
  ScratchDir dir("store_bad");
  auto graphs = mixed_graphs(Task::Layout, 4, 1);
  graphs[2].second.edges.push_back(0);  // odd edge array: not [E, 2]
  EXPECT_THROW(shard(dir / "a", Task::Layout, graphs, Partitioner::Contiguous, 500), InputError);
  EXPECT_FALSE(fs::exists(dir / "a"));
  MemoryGraphSource source(Task::Layout, graphs);
  ShardOptions o;
  o.out = dir / "b";
  o.skip_bad = true;
  ShardSummary s = shard_collection(source, o);
  EXPECT_EQ(s.graphs, 3);
  EXPECT_EQ(s.skipped_bad, 1);
  EXPECT_EQ(Manifest::read(dir / "b").options.skipped_bad, 1);
}

TEST(Verify, CleanStorePassesAndAFlippedByteIsReported) {
  ScratchDir dir("store_verify");
  shard(dir.path(), Task::Layout, mixed_graphs(Task::Layout, 6, 4), Partitioner::Metis, 300, 2);
  VerifyReport clean = verify_store(dir.path());
  EXPECT_TRUE(clean.problems.empty()) << ::testing::PrintToString(clean.problems);
  EXPECT_EQ(clean.graphs, 6);
  Manifest m = Manifest::read(dir.path());
  fs::path victim = dir / m.shards[1].file;
  {
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(m.shards[1].bytes / 2);
    char c;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x10);
    f.seekp(m.shards[1].bytes / 2);
    f.write(&c, 1);
  }
  VerifyReport broken = verify_store(dir.path());
  ASSERT_FALSE(broken.problems.empty());
  EXPECT_NE(broken.problems[0].find("checksum"), std::string::npos) << broken.problems[0];
  fs::remove(dir / m.shards[0].file);
  VerifyReport missing = verify_store(dir.path());
  bool found = false;
  for (const auto& p : missing.problems) found |= p.find("missing") != std::string::npos;
  EXPECT_TRUE(found) << ::testing::PrintToString(missing.problems);
}

// A small store "store" in `dir` (one shard) and its shard file's name.
std::string small_store(const ScratchDir& dir) {
  shard(dir / "store", Task::Tile, mixed_graphs(Task::Tile, 2, 1), Partitioner::Contiguous, 100, 1);
  return Manifest::read(dir / "store").shards[0].file;
}

// The message of the InputError that reading graph 0 of the store "store" (a relative path, as a
// user would give it) throws.
std::string read_error(const ScratchDir& dir) {
  testing::WorkingDirectory cwd(dir.path());
  try {
    SegmentStore::open("store")->load_configs(0);
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "reading the damaged store gave no InputError";
  return "";
}

// Messages must not show the paths of the machine that built gst, nor turn relative paths
// absolute.
void expect_no_machine_paths(const std::string& message, const ScratchDir& dir) {
  EXPECT_EQ(message.find(GST_SOURCE_DIR), std::string::npos) << message;
  EXPECT_EQ(message.find(".cpp:"), std::string::npos) << message;
  EXPECT_EQ(message.find(dir.path().string()), std::string::npos) << message;
}

TEST(StoreErrors, CorruptShardMetadataNamesTheShardTheObjectAndTheFix) {
  ScratchDir dir("store_bad_metadata");
  const std::string shard_file = small_store(dir);
  {
    // Bytes 48.. hold the root group's object header (after the 48-byte version-3 superblock).
    std::fstream f(dir / "store" / shard_file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(64);
    f.put('\x5a');
  }
  const std::string message = read_error(dir);
  EXPECT_NE(
      message.find("store/" + shard_file + ": cannot read the root group: attribute 'format'"),
      std::string::npos)
      << message;
  EXPECT_NE(message.find("HDF5 call H5Aopen() failed: "), std::string::npos) << message;
  EXPECT_NE(message.find("checksum"), std::string::npos) << message;
  EXPECT_NE(message.find("run `gst shard --verify store`"), std::string::npos) << message;
  expect_no_machine_paths(message, dir);
}

TEST(StoreErrors, TruncatedShardNamesTheShardAndTheFix) {
  ScratchDir dir("store_truncated");
  const std::string shard_file = small_store(dir);
  fs::resize_file(dir / "store" / shard_file, fs::file_size(dir / "store" / shard_file) / 2);
  const std::string message = read_error(dir);
  EXPECT_NE(message.find("store/" + shard_file + ": cannot read "), std::string::npos) << message;
  EXPECT_NE(message.find("HDF5 call H5"), std::string::npos) << message;
  EXPECT_NE(message.find("run `gst shard --verify store`"), std::string::npos) << message;
  expect_no_machine_paths(message, dir);
}

TEST(StoreErrors, FailedHdf5CallNamesTheFunctionButNoSourcePath) {
  try {
    h5::Handle file(GST_H5(H5Fopen("no-such-file.h5", H5F_ACC_RDONLY, H5P_DEFAULT)));
    FAIL() << "opening a missing file must fail";
  } catch (const h5::Failure& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind("HDF5 call H5Fopen() failed: H5Fopen(): unable to open file", 0), 0u)
        << message;
    EXPECT_EQ(message.find(GST_SOURCE_DIR), std::string::npos) << message;
    EXPECT_EQ(message.find(fs::path(__FILE__).parent_path().string()), std::string::npos)
        << message;
    EXPECT_EQ(message.find("src/store"), std::string::npos) << message;
  }
}

TEST(StoreErrors, CheckMacroNamesItsSourceFileWithoutDirectories) {
  try {
    GST_CHECK(1 + 1 == 3, "arithmetic");
    FAIL() << "GST_CHECK of a false condition must throw";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("(store_test.cpp:"), std::string::npos) << message;
    EXPECT_EQ(message.find(GST_SOURCE_DIR), std::string::npos) << message;
    EXPECT_EQ(message.find("/store_test.cpp"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace gst
