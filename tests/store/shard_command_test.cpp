// `gst shard` as users run it: npz collections in, stores out, read back by h5py and numpy.
#include <gtest/gtest.h>

#include <fstream>

#include "data/graph_io.h"
#include "store/manifest.h"
#include "store/store_fixtures.h"
#include "test_support.h"

namespace gst {
namespace {

namespace fs = std::filesystem;
using testing::gst_binary;
using testing::random_graph;
using testing::run_command;
using testing::ScratchDir;
using testing::with_faults;

// Writes a small collection in the real directory layout; returns the collection directory.
fs::path write_collection(const fs::path& root, Task task, int count) {
  fs::path dir = root / (task == Task::Layout ? "npz/layout/xla/random" : "npz/tile/xla");
  const char* splits[] = {"train", "train", "valid", "test"};
  for (int i = 0; i < count; ++i) {
    int64_t nodes = task == Task::Layout ? 200 + (i * 613) % 2500 : 6 + i % 30;
    Graph g = random_graph(task, "g" + std::to_string(i), nodes, 4 + i % 9, 40 + i);
    if (i % 4 == 3 && i % 8 == 7) {  // an unlabeled test graph
      g.has_runtime = false;
      std::fill(g.runtime.begin(), g.runtime.end(), 0.0);
      if (task == Task::Tile)
        std::fill(g.runtime_normalizer.begin(), g.runtime_normalizer.end(), 0.0);
    }
    fs::create_directories(dir / splits[i % 4]);
    write_graph(dir / splits[i % 4] / (g.id + ".npz"), g, i % 2 == 0);
  }
  return dir;
}

// Rebuilds every graph of the store with h5py alone and compares it with np.load of its .npz;
// checks each layout segment's config_feat_chunks against the chunk offsets and sizes HDF5 gives
// h5py.
const char* kH5pyCheck = R"(
import json, os, sys
import h5py, numpy as np
store, coll = sys.argv[1], sys.argv[2]
m = json.load(open(os.path.join(store, "manifest.json")))
task = m["task"]
rows = lambda a: a[np.lexsort((a[:, 1], a[:, 0]))]
checked, placed, train_feats = 0, 0, []
for shard in m["shards"]:
    f = h5py.File(os.path.join(store, shard["file"]), "r")
    assert f.attrs["format_version"] == m["format_version"]
    for gi in shard["graphs"]:
        g = m["graphs"][gi]
        src = np.load(os.path.join(coll, g["split"], g["id"] + ".npz"))
        grp = f["graphs/%s/%s" % (g["split"], g["id"])]
        orig = grp["original_node_id"][()]
        off = grp["segment_offsets"][()]
        assert list(off) == g["segment_offsets"]
        n = g["num_nodes"]
        feat = np.zeros((n, 140), np.float32)
        ops = np.zeros(n, np.uint8)
        edges, cnodes, cfeat = [], [], []
        for s in range(len(off) - 1):
            seg = grp["segments/%d" % s]
            ids = orig[off[s]:off[s + 1]]
            feat[ids] = seg["node_feat"][()]
            ops[ids] = seg["node_opcode"][()]
            edges.append(orig[seg["edges"][()].astype(np.int64) + off[s]])
            x = seg["cross_edges"][()]
            edges.append(orig[x[(x[:, 0] >= off[s]) & (x[:, 0] < off[s + 1])]])
            if task == "layout":
                cnodes.append(orig[seg["config_nodes"][()].astype(np.int64) + off[s]])
                cfeat.append(seg["config_feat"][()])
                d = seg["config_feat"]
                if d.chunks is not None:
                    info = [d.id.get_chunk_info_by_coord((r, 0, 0))
                            for r in range(0, d.shape[0], d.chunks[0])]
                    np.testing.assert_array_equal(seg["config_feat_chunks"][()],
                                                  [[c.byte_offset, c.size] for c in info])
                    placed += 1
        np.testing.assert_array_equal(feat, src["node_feat"])
        np.testing.assert_array_equal(ops, src["node_opcode"])
        np.testing.assert_array_equal(rows(np.concatenate(edges).reshape(-1, 2)),
                                      rows(src["edge_index"].astype(np.int64)))
        runtime = grp["runtime"][()]
        if "config_runtime" in src.files:
            np.testing.assert_array_equal(runtime, src["config_runtime"].astype(np.float64))
        else:
            assert not g["has_runtime"] and not runtime.any()
        if task == "layout":
            order = grp["config_node_order"][()]
            np.testing.assert_array_equal(np.concatenate(cnodes), src["node_config_ids"][order])
            np.testing.assert_array_equal(np.concatenate(cfeat, axis=1),
                                          src["node_config_feat"][:, order, :])
        else:
            np.testing.assert_array_equal(grp["config_feat"][()], src["config_feat"])
            if "config_runtime_normalizers" in src.files:
                np.testing.assert_array_equal(grp["runtime_normalizer"][()],
                                              src["config_runtime_normalizers"].astype(np.float64))
        if g["split"] == "train":
            train_feats.append(src["node_feat"].astype(np.float64))
        checked += 1
t = np.concatenate(train_feats)
np.testing.assert_allclose(m["feature_mean"], t.mean(0), rtol=1e-6, atol=1e-6)
np.testing.assert_allclose(m["feature_std"], t.std(0), rtol=1e-4, atol=1e-5)
assert checked == len(m["graphs"]) == sum(m["split_counts"].values())
print("h5py checked", checked, "graphs,", placed, "chunk tables")
)";

TEST(ShardCommand, H5pyReadsTheStoreAndItMatchesTheSourceNpz) {
  ScratchDir dir("shard_h5py");
  for (auto [task, partitioner, k] :
       {std::tuple{Task::Layout, "metis", 700}, std::tuple{Task::Tile, "contiguous", 10}}) {
    fs::path coll = write_collection(dir.path(), task, 10);
    fs::path store = dir / (std::string("store-") + partitioner);
    auto r = run_command(gst_binary() + " shard --input " + coll.string() + " --out " +
                         store.string() + " --shards 3 --workers 2 --segment-size " +
                         std::to_string(k) + " --partitioner " + partitioner);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("10 graphs (0 bad skipped)"), std::string::npos) << r.output;
    auto py = testing::run_python(kH5pyCheck, store.string() + " " + coll.string());
    EXPECT_EQ(py.exit_code, 0) << py.output;
    EXPECT_NE(py.output.find("h5py checked 10 graphs"), std::string::npos) << py.output;
    if (task == Task::Layout)
      EXPECT_EQ(py.output.find(" 0 chunk tables"), std::string::npos) << py.output;
  }
}

TEST(ShardCommand, StreamedGraphsWithinTheMemoryBudgetAreReadByH5py) {
  ScratchDir dir("shard_streamed");
  fs::path coll = dir / "npz/layout/xla/random";
  const char* splits[] = {"train", "train", "valid", "test"};
  for (int i = 0; i < 4; ++i) {
    // node_config_feat of 0.1 to 4 MB; the 64 MiB budget streams those above ~1.4 MB.
    Graph g = random_graph(Task::Layout, "g" + std::to_string(i), 700 + 900 * i, 60 + 120 * i, i);
    fs::create_directories(coll / splits[i]);
    write_graph(coll / splits[i] / (g.id + ".npz"), g, i % 2 == 1);
  }
  fs::path store = dir / "store";
  auto r = run_command(gst_binary() + " shard --input " + coll.string() + " --out " +
                       store.string() + " --shards 2 --workers 2 --memory-mb 64");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("streaming node_config_feat"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("4 graphs (0 bad skipped, 3 streamed)"), std::string::npos) << r.output;
  auto py = testing::run_python(kH5pyCheck, store.string() + " " + coll.string());
  EXPECT_EQ(py.exit_code, 0) << py.output;
  EXPECT_NE(py.output.find("h5py checked 4 graphs"), std::string::npos) << py.output;
  r = run_command(gst_binary() + " shard --verify " + store.string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = run_command(gst_binary() + " shard --input " + coll.string() + " --out " +
                  (dir / "x").string() + " --memory-mb 8");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--memory-mb"), std::string::npos) << r.output;
}

TEST(ShardCommand, CorruptNpzStopsTheRunWithItsPathOrIsSkipped) {
  ScratchDir dir("shard_corrupt");
  fs::path coll = write_collection(dir.path(), Task::Layout, 5);
  fs::path bad = coll / "valid" / "g2.npz";
  fs::resize_file(bad, fs::file_size(bad) / 2);  // truncated download
  std::string base = gst_binary() + " shard --input " + coll.string() + " --shards 2 --out ";
  auto r = run_command(base + (dir / "a").string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(bad.string()), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "a"));
  r = run_command(base + (dir / "b").string() + " --skip-bad");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("4 graphs (1 bad skipped)"), std::string::npos) << r.output;
  EXPECT_EQ(Manifest::read(dir / "b").options.skipped_bad, 1);
}

TEST(ShardCommand, KilledWriterLeavesNoCompleteStoreAndVerifySaysSo) {
  ScratchDir dir("shard_killed");
  fs::path coll = write_collection(dir.path(), Task::Layout, 6);
  std::string cmd = gst_binary() + " shard --input " + coll.string() + " --shards 3 --out " +
                    (dir / "store").string();
  auto r = run_command(with_faults("kill:shard.file-written,at=2", cmd));
  EXPECT_EQ(r.exit_code, 128 + 9) << r.output;  // SIGKILL
  EXPECT_FALSE(fs::exists(dir / "store" / "manifest.json"));
  auto v = run_command(gst_binary() + " shard --verify " + (dir / "store").string());
  EXPECT_EQ(v.exit_code, 1) << v.output;
  EXPECT_NE(v.output.find("no manifest"), std::string::npos) << v.output;
  r = run_command(cmd);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  v = run_command(gst_binary() + " shard --verify " + (dir / "store").string());
  EXPECT_EQ(v.exit_code, 0) << v.output;
}

TEST(ShardCommand, VerifyReportsAFlippedByteAndExitsNonZero) {
  ScratchDir dir("shard_flip");
  fs::path coll = write_collection(dir.path(), Task::Tile, 8);
  fs::path store = dir / "store";
  auto r = run_command(gst_binary() + " shard --input " + coll.string() + " --shards 2 --out " +
                       store.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  fs::path shard = store / "shard-00001.h5";
  {
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(shard) - 100));
    f.put('\x5a');
  }
  auto v = run_command(gst_binary() + " shard --verify " + store.string());
  EXPECT_EQ(v.exit_code, 1) << v.output;
  EXPECT_NE(v.output.find("shard 1"), std::string::npos) << v.output;
  EXPECT_NE(v.output.find("checksum"), std::string::npos) << v.output;
}

TEST(ShardCommand, UsageErrorsExitWithTwo) {
  EXPECT_EQ(run_command(gst_binary() + " shard --out /nonexistent/x").exit_code, 2);
  EXPECT_EQ(run_command(gst_binary() + " shard --verify a --input b").exit_code, 2);
  EXPECT_EQ(run_command(gst_binary() + " shard --input a --out b --partitioner spectral").exit_code,
            2);
  auto help = run_command(gst_binary() + " shard --help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* option : {"--input", "--out", "--shards", "--segment-size", "--partitioner",
                             "--splits", "--workers", "--skip-bad", "--overwrite", "--verify"})
    EXPECT_NE(help.output.find(option), std::string::npos) << option;
}

}  // namespace
}  // namespace gst
