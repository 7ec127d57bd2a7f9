// Graph records: round trips, accepted dtype variants, and one specific error per broken input.
#include "data/graph_io.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "common/errors.h"
#include "data/collection.h"
#include "data/synth.h"
#include "expect_input_error.h"
#include "test_support.h"

namespace gst {
namespace {

using testing::expect_input_error;
using testing::ScratchDir;

Graph small_graph(Task task, uint64_t seed = 5) {
  SynthOptions o;
  o.configs = 6;
  return synth_graph(o, task, seed, task == Task::Layout ? 120 : 12);
}

void expect_same(const Graph& a, const Graph& b) {
  EXPECT_EQ(a.task, b.task);
  EXPECT_EQ(a.num_nodes, b.num_nodes);
  EXPECT_EQ(a.node_feat, b.node_feat);
  EXPECT_EQ(a.node_opcode, b.node_opcode);
  EXPECT_EQ(a.edges, b.edges);
  EXPECT_EQ(a.config_node_ids, b.config_node_ids);
  EXPECT_EQ(a.config_feat, b.config_feat);
  EXPECT_EQ(a.runtime, b.runtime);
  EXPECT_EQ(a.runtime_normalizer, b.runtime_normalizer);
  EXPECT_EQ(a.node_splits, b.node_splits);
}

TEST(GraphIo, RoundTripBothTasksStoredAndCompressed) {
  ScratchDir dir("graph-rt");
  for (Task task : {Task::Layout, Task::Tile})
    for (bool compress : {false, true}) {
      Graph g = small_graph(task);
      if (task == Task::Layout) g.node_splits = {3, 60};
      auto file = dir / (g.id + (compress ? "c" : "s") + ".npz");
      write_graph(file, g, compress);
      Graph back = read_graph(file, task);
      EXPECT_EQ(back.id, file.stem().string());
      expect_same(g, back);
    }
}

// Real files may use other integer and float dtypes: gst converts them.
TEST(GraphIo, AcceptsAnyIntegerDtypeFloat64AndBothNodeSplitShapes) {
  Graph g = small_graph(Task::Layout);
  NpzArrays a = graph_to_npz(g);
  std::vector<int32_t> edges32(g.edges.begin(), g.edges.end());
  a["edge_index"] = NpyArray::from(edges32, {g.num_edges(), 2});
  std::vector<int64_t> ops64(g.node_opcode.begin(), g.node_opcode.end());
  a["node_opcode"] = NpyArray::from(ops64, {g.num_nodes});
  std::vector<double> feat64(g.node_feat.begin(), g.node_feat.end());
  a["node_feat"] = NpyArray::from(feat64, {g.num_nodes, kNodeFeatureDim});
  std::vector<double> runtime(g.runtime.begin(), g.runtime.end());
  runtime[0] += 0.5;
  a["config_runtime"] = NpyArray::from(runtime, {g.num_configs()});
  a["node_splits"] = NpyArray::from(std::vector<int64_t>{5, 9}, {2});
  Graph back = graph_from_npz(a, Task::Layout, "x", "mem");
  EXPECT_EQ(back.edges, g.edges);
  EXPECT_EQ(back.node_opcode, g.node_opcode);
  EXPECT_EQ(back.node_feat, g.node_feat);
  EXPECT_EQ(back.runtime[0], g.runtime[0] + 0.5);
  EXPECT_EQ(back.node_splits, (std::vector<int64_t>{5, 9}));
  a["node_splits"] = NpyArray::from(std::vector<int64_t>{5, 9}, {1, 2});
  EXPECT_EQ(graph_from_npz(a, Task::Layout, "x", "mem").node_splits.size(), 2u);
  a.erase("node_splits");
  EXPECT_TRUE(graph_from_npz(a, Task::Layout, "x", "mem").node_splits.empty());
  // Runtimes may be missing where allowed (test files), never elsewhere.
  a.erase("config_runtime");
  GraphReadOptions optional;
  optional.runtime_optional = true;
  Graph no_runtime = graph_from_npz(a, Task::Layout, "x", "mem", optional);
  EXPECT_FALSE(no_runtime.has_runtime);
  EXPECT_EQ(no_runtime.runtime, std::vector<double>(g.num_configs(), 0.0));
  expect_input_error([&] { graph_from_npz(a, Task::Layout, "x", "mem"); },
                     {"mem: missing key 'config_runtime'"});
}

// One mutation of a valid graph's arrays and the message it must produce.
struct Broken {
  const char* name;
  Task task;
  void (*mutate)(NpzArrays&, const Graph&);
  std::vector<std::string> message;
};

const std::vector<Broken>& broken_corpus() {
  static const std::vector<Broken> corpus = {
      {"missing_key",
       Task::Layout,
       [](NpzArrays& a, const Graph&) { a.erase("node_feat"); },
       {"missing key 'node_feat'"}},
      {"missing_config_ids",
       Task::Layout,
       [](NpzArrays& a, const Graph&) { a.erase("node_config_ids"); },
       {"missing key 'node_config_ids'"}},
      {"wrong_width",
       Task::Layout,
       [](NpzArrays& a, const Graph& g) {
         a["node_feat"] = NpyArray::from(std::vector<float>(g.num_nodes * 139), {g.num_nodes, 139});
       },
       {"key 'node_feat' has shape [120, 139], expected [*, 140]"}},
      {"wrong_rank",
       Task::Layout,
       [](NpzArrays& a, const Graph& g) {
         a["edge_index"] = NpyArray::from(g.edges, {g.num_edges() * 2});
       },
       {"key 'edge_index' has shape", "expected [*, 2]"}},
      {"edge_out_of_range",
       Task::Layout,
       [](NpzArrays& a, const Graph& g) {
         std::vector<int64_t> e = g.edges;
         e[7] = g.num_nodes;
         a["edge_index"] = NpyArray::from(e, {g.num_edges(), 2});
       },
       {"key 'edge_index' row 3 has node id 120 outside 0..119"}},
      {"negative_edge",
       Task::Tile,
       [](NpzArrays& a, const Graph& g) {
         std::vector<int64_t> e = g.edges;
         e[0] = -1;
         a["edge_index"] = NpyArray::from(e, {g.num_edges(), 2});
       },
       {"key 'edge_index' row 0 has node id -1"}},
      {"config_id_out_of_range",
       Task::Layout,
       [](NpzArrays& a, const Graph& g) {
         std::vector<int64_t> ids = g.config_node_ids;
         ids.back() = 500;
         a["node_config_ids"] = NpyArray::from(ids, {g.num_config_nodes()});
       },
       {"key 'node_config_ids' entry", "is node id 500 outside 0..119"}},
      {"config_feat_mismatch",
       Task::Layout,
       [](NpzArrays& a, const Graph& g) {
         std::vector<int64_t> ids = g.config_node_ids;
         ids.push_back(0);
         a["node_config_ids"] = NpyArray::from(ids, {g.num_config_nodes() + 1});
       },
       {"key 'node_config_feat' has shape"}},
      {"nan_runtime",
       Task::Layout,
       [](NpzArrays& a, const Graph& g) {
         std::vector<double> r = g.runtime;
         r[2] = std::nan("");
         a["config_runtime"] = NpyArray::from(r, {g.num_configs()});
       },
       {"key 'config_runtime' value nan for config 2"}},
      {"inf_runtime",
       Task::Tile,
       [](NpzArrays& a, const Graph& g) {
         std::vector<float> r(g.runtime.begin(), g.runtime.end());
         r[1] = std::numeric_limits<float>::infinity();
         a["config_runtime"] = NpyArray::from(r, {g.num_configs()});
       },
       {"key 'config_runtime' value inf for config 1"}},
      {"negative_runtime",
       Task::Layout,
       [](NpzArrays& a, const Graph& g) {
         std::vector<int64_t> r(g.runtime.begin(), g.runtime.end());
         r[0] = -5;
         a["config_runtime"] = NpyArray::from(r, {g.num_configs()});
       },
       {"key 'config_runtime' value -5 for config 0 is not a finite non-negative runtime"}},
      {"negative_normalizer",
       Task::Tile,
       [](NpzArrays& a, const Graph& g) {
         std::vector<int64_t> r(g.num_configs(), 10);
         r[3] = -1;
         a["config_runtime_normalizers"] = NpyArray::from(r, {g.num_configs()});
       },
       {"key 'config_runtime_normalizers' value -1 for config 3"}},
      {"zero_configs",
       Task::Layout,
       [](NpzArrays& a, const Graph& g) {
         a["node_config_feat"] =
             NpyArray::from(std::vector<float>{}, {0, g.num_config_nodes(), kLayoutConfigDim});
         a["config_runtime"] = NpyArray::from(std::vector<int64_t>{}, {0});
       },
       {"0 configs (C = 0)"}},
      {"zero_nodes",
       Task::Tile,
       [](NpzArrays& a, const Graph&) {
         a["node_feat"] = NpyArray::from(std::vector<float>{}, {0, kNodeFeatureDim});
       },
       {"0 nodes (N = 0)"}},
      {"runtime_count",
       Task::Tile,
       [](NpzArrays& a, const Graph& g) {
         a["config_runtime"] =
             NpyArray::from(std::vector<int64_t>(g.num_configs() + 1, 1), {g.num_configs() + 1});
       },
       {"key 'config_runtime' has shape [7], expected [6]"}},
      {"tile_width",
       Task::Tile,
       [](NpzArrays& a, const Graph& g) {
         a["config_feat"] =
             NpyArray::from(std::vector<float>(g.num_configs() * 18), {g.num_configs(), 18});
       },
       {"key 'config_feat' has shape [6, 18], expected [*, 24]"}},
      {"opcode_range",
       Task::Layout,
       [](NpzArrays& a, const Graph& g) {
         std::vector<int64_t> ops(g.node_opcode.begin(), g.node_opcode.end());
         ops[4] = 120;
         a["node_opcode"] = NpyArray::from(ops, {g.num_nodes});
       },
       {"key 'node_opcode' value 120 at node 4 is outside 0..119"}},
      {"float_edges",
       Task::Layout,
       [](NpzArrays& a, const Graph& g) {
         std::vector<float> e(g.edges.begin(), g.edges.end());
         a["edge_index"] = NpyArray::from(e, {g.num_edges(), 2});
       },
       {"edge_index: expected an integer array, got dtype '<f4'"}},
      {"node_splits_shape",
       Task::Layout,
       [](NpzArrays& a, const Graph&) {
         a["node_splits"] = NpyArray::from(std::vector<int64_t>{1, 2, 3, 4}, {2, 2});
       },
       {"key 'node_splits' has shape [2, 2], expected [1, S] or [S]"}},
  };
  return corpus;
}

TEST(GraphIo, BrokenGraphFilesGiveSpecificErrorsNamingFileAndKey) {
  ScratchDir dir("graph-broken");
  for (const Broken& b : broken_corpus()) {
    SCOPED_TRACE(b.name);
    Graph g = small_graph(b.task);
    NpzArrays a = graph_to_npz(g);
    b.mutate(a, g);
    auto file = dir / (std::string(b.name) + ".npz");
    write_npz(file, a, true);
    std::vector<std::string> parts = b.message;
    parts.push_back(file.string());
    expect_input_error([&] { read_graph(file, b.task); }, parts);
  }
}

TEST(GraphIo, ValidateGraphChecksRecordsBuiltInMemory) {
  Graph g = small_graph(Task::Layout);
  EXPECT_NO_THROW(validate_graph(g, "g"));
  g.runtime_normalizer = {1};
  expect_input_error([&] { validate_graph(g, "g"); }, {"g: a layout graph has no"});
  Graph t = small_graph(Task::Tile);
  t.node_opcode.pop_back();
  expect_input_error([&] { validate_graph(t, "t"); }, {"t: key 'node_opcode' has 11 entries"});
}

// Writes `count` valid layout graphs into split folders of a collection directory.
void write_collection(const std::filesystem::path& dir, int count) {
  for (int i = 0; i < count; ++i) {
    Graph g = small_graph(Task::Layout, 100 + i);
    std::string split = i % 3 == 0 ? "valid" : "train";
    std::filesystem::create_directories(dir / split);
    write_graph(dir / split / ("g" + std::to_string(9 - i) + ".npz"), g, i % 2 == 0);
  }
}

TEST(Collection, ParsesNamesAndFindsCollections) {
  EXPECT_EQ(parse_collection_name("layout:nlp:default").relative_dir(), "npz/layout/nlp/default");
  EXPECT_EQ(parse_collection_name("tile:xla").relative_dir(), "npz/tile/xla");
  EXPECT_EQ(parse_collection_name("tile:xla").task, Task::Tile);
  expect_input_error([] { parse_collection_name("layout:xla"); },
                     {"unknown collection 'layout:xla'", "layout:xla:random", "tile:xla"});

  ScratchDir root("collection");
  auto dir = root / "npz/layout/xla/random";
  write_collection(dir, 6);
  // By root + name, by root alone (one collection there), by directory (inferred), overridden.
  EXPECT_EQ(Collection::open(root.path(), "layout:xla:random").dir(), dir);
  EXPECT_EQ(Collection::open(root.path()).name().str(), "layout:xla:random");
  Collection c = Collection::open(dir);
  EXPECT_EQ(c.name().str(), "layout:xla:random");
  EXPECT_EQ(Collection::open(dir, "layout:nlp:default").name().str(), "layout:nlp:default");
  // Files are sorted by id, per split; absent splits are empty.
  std::vector<std::string> ids;
  for (const auto& f : c.files("train")) ids.push_back(f.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"g4", "g5", "g7", "g8"}));
  EXPECT_EQ(c.files("valid").size(), 2u);
  EXPECT_TRUE(c.files("test").empty());
  EXPECT_EQ(c.files(std::vector<std::string>{"valid", "train"}).front().split, "train");
  expect_input_error([&] { c.files("dev"); }, {"unknown split 'dev'"});
  LoadedGraphs all = c.load_all({}, false);
  ASSERT_EQ(all.graphs.size(), 6u);
  EXPECT_EQ(all.graphs[0].id, "g4");
  EXPECT_EQ(all.files[4].split, "valid");

  write_collection(root / "npz/tile/xla", 0);
  std::filesystem::create_directories(root / "npz/tile/xla/train");
  expect_input_error([&] { Collection::open(root.path()); }, {"2 collections under npz/"});
  expect_input_error([&] { Collection::open(root / "npz"); }, {"cannot tell the collection"});
  expect_input_error([&] { Collection::open(root / "nowhere"); }, {"not a directory"});
  std::filesystem::create_directories(root / "empty/layout/xla/random");
  expect_input_error([&] { Collection::open(root / "empty/layout/xla/random"); },
                     {"no train/, valid/ or test/ folder"});
}

TEST(Collection, SkipBadCountsAndReportsElseFailsOnFirstBadFile) {
  ScratchDir root("collection-bad");
  auto dir = root / "npz/layout/xla/default";
  write_collection(dir, 5);
  // Break two files: one truncated zip, one with an out-of-range edge.
  std::filesystem::resize_file(dir / "train/g5.npz", 100);
  Graph g = small_graph(Task::Layout);
  NpzArrays a = graph_to_npz(g);
  a["edge_index"].bytes[0] = 0xff;
  write_npz(dir / "valid/g9.npz", a, false);

  Collection c = Collection::open(root.path(), "layout:xla:default");
  expect_input_error([&] { c.load_all({}, false); }, {"g5.npz", "truncated or corrupt"});
  LoadedGraphs some = c.load_all({}, true);
  EXPECT_EQ(some.graphs.size(), 3u);
  ASSERT_EQ(some.skipped.size(), 2u);
  EXPECT_EQ(some.skipped[0].path, dir / "train/g5.npz");
  EXPECT_NE(some.skipped[0].reason.find("truncated or corrupt"), std::string::npos);
  EXPECT_EQ(some.skipped[1].path, dir / "valid/g9.npz");
  EXPECT_NE(some.skipped[1].reason.find("edge_index"), std::string::npos);
  // Test-split files may lack runtimes.
  std::filesystem::create_directories(dir / "test");
  a = graph_to_npz(g);
  a.erase("config_runtime");
  write_npz(dir / "test/t0.npz", a, true);
  Collection again = Collection::open(dir);
  Graph t = again.load(again.files("test").front());
  EXPECT_FALSE(t.has_runtime);
}

}  // namespace
}  // namespace gst
