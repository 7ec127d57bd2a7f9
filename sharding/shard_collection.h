// The preprocessing stage: a collection of graphs -> S shard files + manifest, atomically.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "data/collection.h"
#include "data/graph.h"
#include "sharding/partition.h"

namespace gst {

// One input graph, listed before it is read.
struct GraphInput {
  std::string id;
  std::string split;
  std::string source;  // the file it comes from (for errors and the manifest), or a label
  int64_t bytes = 0;   // input size, for throughput figures
  size_t key = 0;      // the source's own handle for it
};

// node_config_feat [C, M, 18] of one layout graph, read front to back a block of configs at a time.
class ConfigRows {
 public:
  virtual ~ConfigRows() = default;
  // The next `count` configs into dest: [count, M, 18]. Throws InputError naming the file and
  // the array when its data is truncated or corrupt.
  virtual void read(int64_t count, float* dest) = 0;
};

// Where graphs come from: a collection directory of .npz files, or graphs already in memory.
class GraphSource {
 public:
  virtual ~GraphSource() = default;
  virtual Task task() const = 0;
  virtual const std::vector<GraphInput>& inputs() const = 0;
  // Reads and validates one graph; throws InputError naming the file and the reason when bad.
  // A layout graph whose node_config_feat holds more than stream_above bytes (when >= 0) comes
  // without its values (config_feat_streamed, data/graph_io.h): config_rows reads them.
  // Called from several threads at once.
  virtual Graph load(const GraphInput& input, int64_t stream_above) const = 0;
  // The node_config_feat values of a graph `load` left in the source.
  virtual std::unique_ptr<ConfigRows> config_rows(const GraphInput& input, int64_t configs,
                                                  int64_t config_nodes) const = 0;
};

// Graphs held in memory (tests, benchmarks, synthetic data generated on the fly).
class MemoryGraphSource : public GraphSource {
 public:
  MemoryGraphSource(Task task, std::vector<std::pair<std::string, Graph>> split_graphs);
  Task task() const override { return task_; }
  const std::vector<GraphInput>& inputs() const override { return inputs_; }
  Graph load(const GraphInput& input, int64_t stream_above) const override;
  std::unique_ptr<ConfigRows> config_rows(const GraphInput& input, int64_t configs,
                                          int64_t config_nodes) const override;

 private:
  Task task_;
  std::vector<GraphInput> inputs_;
  std::vector<Graph> graphs_;
};

// The .npz files of a TpuGraphs collection directory, read and validated by the data layer.
class CollectionSource : public GraphSource {
 public:
  // input/name as Collection::open; lists the files of `splits`.
  CollectionSource(const std::filesystem::path& input, const std::string& name,
                   const std::vector<std::string>& splits);
  Task task() const override { return collection_.name().task; }
  const std::vector<GraphInput>& inputs() const override { return inputs_; }
  Graph load(const GraphInput& input, int64_t stream_above) const override;
  std::unique_ptr<ConfigRows> config_rows(const GraphInput& input, int64_t configs,
                                          int64_t config_nodes) const override;
  const Collection& collection() const { return collection_; }

 private:
  Collection collection_;
  std::vector<GraphFile> files_;
  std::vector<GraphInput> inputs_;
};

struct ShardOptions {
  std::filesystem::path out;
  std::string collection;  // recorded in the manifest, e.g. "layout:xla:random"
  std::string input;       // recorded in the manifest
  int shards = 1;
  int64_t segment_size = 1000;
  Partitioner partitioner = Partitioner::Contiguous;
  std::vector<std::string> splits = {"train", "valid", "test"};
  int workers = 1;
  // Deflate level (libdeflate), 0 = none. 2: smaller stores than zlib's level 4 gave, sharded 1.9x
  // and read 3x faster (src/store/README.md, Figures).
  int compression_level = 2;
  // What the whole run may hold in memory, workers included (see memory_plan). Layout graphs
  // whose node_config_feat exceeds a share of it are streamed: read, split into segments and
  // written a block of configs at a time, never held whole.
  int64_t memory_bytes = int64_t{1} << 30;
  // Graphs read by the checking pass are kept for the write pass up to this many bytes (at most
  // a quarter of memory_bytes); the rest are read again.
  int64_t cache_bytes = int64_t{1} << 30;
  // Streams every layout graph whose node_config_feat holds more than this many bytes; < 0:
  // derived from memory_bytes (tests set it to force either path).
  int64_t stream_above_bytes = -1;
  // Keep at most this many configs of each graph (0: all), chosen by choose_configs
  // (config_subset.h) with this seed; the manifest records both and each graph's original count.
  int64_t max_configs = 0;
  uint64_t max_configs_seed = 0;
  bool skip_bad = false;
  bool overwrite = false;
  int64_t skipped_before = 0;  // bad files the source itself already skipped
};

// How a run divides memory_bytes among the scan cache, the graphs in flight on the workers and
// the blocks of the graphs being streamed.
struct MemoryPlan {
  int64_t cache_bytes = 0;   // graphs kept from the scan for the write pass
  int64_t stream_above = 0;  // node_config_feat bytes above which a graph is streamed
  int64_t block_bytes = 0;   // decoded configs per block of a streamed graph
  int streams = 1;           // shards whose streamed graphs are written at once (one per file)
};
MemoryPlan memory_plan(const ShardOptions& options);
// Most shard files whose streamed graphs are written at once.
constexpr int kMostStreams = 8;

struct ShardSummary {
  int64_t graphs = 0, skipped_bad = 0, segments = 0, nodes = 0, streamed = 0;
  int64_t subset = 0;  // graphs that kept only --max-configs of their configs
  int64_t total_edges = 0, cut_edges = 0;
  int64_t input_bytes = 0, store_bytes = 0;
  double seconds = 0;
  std::string line() const;  // the one-line summary `gst shard` prints
};

// Runs the whole stage. Throws gst::Error/InputError on failure, leaving no temporary files and
// no store that looks complete. Fault injection (common/fault.h): the point shard.file-written,
// counted in shard files written, e.g. GST_FAULT='kill:shard.file-written,at=2' dies as a killed
// writer would.
ShardSummary shard_collection(const GraphSource& source, const ShardOptions& options);

}  // namespace gst
