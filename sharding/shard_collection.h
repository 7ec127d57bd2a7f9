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

// Where graphs come from: a collection directory of .npz files, or graphs already in memory.
class GraphSource {
 public:
  virtual ~GraphSource() = default;
  virtual Task task() const = 0;
  virtual const std::vector<GraphInput>& inputs() const = 0;
  // Reads and validates one graph; throws InputError naming the file and the reason when bad.
  // Called from several threads at once.
  virtual Graph load(const GraphInput& input) const = 0;
};

// Graphs held in memory (tests, benchmarks, synthetic data generated on the fly).
class MemoryGraphSource : public GraphSource {
 public:
  MemoryGraphSource(Task task, std::vector<std::pair<std::string, Graph>> split_graphs);
  Task task() const override { return task_; }
  const std::vector<GraphInput>& inputs() const override { return inputs_; }
  Graph load(const GraphInput& input) const override;

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
  Graph load(const GraphInput& input) const override;
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
  int compression_level = 4;  // deflate level, 0 = none
  // Graphs read by the checking pass are kept for the write pass up to this many bytes;
  // the rest are read again.
  int64_t cache_bytes = int64_t{1} << 30;
  bool skip_bad = false;
  bool overwrite = false;
  int64_t skipped_before = 0;  // bad files the source itself already skipped
};

struct ShardSummary {
  int64_t graphs = 0, skipped_bad = 0, segments = 0, nodes = 0;
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
