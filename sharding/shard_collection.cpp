#include "sharding/shard_collection.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "common/enum_names.h"
#include "common/errors.h"
#include "common/fault.h"
#include "common/ordered_parallel.h"
#include "common/progress.h"
#include "data/graph_io.h"
#include "sharding/config_subset.h"
#include "sharding/feature_stats.h"
#include "sharding/shard_assign.h"
#include "sharding/shard_writer.h"
#include "sharding/streamed_config.h"
#include "store/checksum.h"
#include "store/manifest.h"
#include "store/schema.h"

namespace gst {

namespace fs = std::filesystem;

namespace {

// The bytes a decoded graph holds in memory: the input size of a graph given in memory, and what
// it costs the scan-to-write cache.
int64_t graph_bytes(const Graph& g) {
  return static_cast<int64_t>(g.node_feat.size() * 4 + g.node_opcode.size() + g.edges.size() * 8 +
                              g.config_node_ids.size() * 8 + g.config_feat.size() * 4 +
                              g.runtime.size() * 8 + g.runtime_normalizer.size() * 8);
}

// The bytes of a layout graph's node_config_feat as float32: what streaming saves.
int64_t config_feat_bytes(int64_t configs, int64_t config_nodes) {
  return configs * config_nodes * kLayoutConfigDim * static_cast<int64_t>(sizeof(float));
}

bool streams(const Graph& g, int64_t stream_above) {
  return g.task == Task::Layout && stream_above >= 0 &&
         config_feat_bytes(g.num_configs(), g.num_config_nodes()) > stream_above;
}

// Every array of a graph but config_feat.
Graph without_config_feat(const Graph& g) {
  Graph out;
  out.id = g.id;
  out.task = g.task;
  out.num_nodes = g.num_nodes;
  out.node_feat = g.node_feat;
  out.node_opcode = g.node_opcode;
  out.edges = g.edges;
  out.config_node_ids = g.config_node_ids;
  out.runtime = g.runtime;
  out.runtime_normalizer = g.runtime_normalizer;
  out.node_splits = g.node_splits;
  out.has_runtime = g.has_runtime;
  return out;
}

// A block-by-block view of config_feat held in memory.
class MemoryConfigRows : public ConfigRows {
 public:
  MemoryConfigRows(const Graph& g, int64_t configs, int64_t config_nodes)
      : graph_(g), row_values_(config_nodes * kLayoutConfigDim) {
    GST_CHECK(static_cast<int64_t>(g.config_feat.size()) == configs * row_values_,
              "graph {}: config_feat is not [{}, {}, 18]", g.id, configs, config_nodes);
  }
  void read(int64_t count, float* dest) override {
    GST_CHECK((next_ + count) * row_values_ <= static_cast<int64_t>(graph_.config_feat.size()),
              "graph {}: configs read past the end", graph_.id);
    std::copy_n(graph_.config_feat.data() + next_ * row_values_, count * row_values_, dest);
    next_ += count;
  }

 private:
  const Graph& graph_;
  int64_t row_values_, next_ = 0;
};

// node_config_feat streamed from its .npz member.
class NpzConfigRows : public ConfigRows {
 public:
  NpzConfigRows(const fs::path& npz, int64_t configs, int64_t config_nodes)
      : stream_(npz, configs, config_nodes) {}
  void read(int64_t count, float* dest) override { stream_.read(count, dest); }

 private:
  ConfigFeatStream stream_;
};

// The kept configs (ascending indices) of a source's rows: runs of kept configs are read straight
// into the destination, the others into a small scratch buffer and dropped.
class SubsetConfigRows : public ConfigRows {
 public:
  SubsetConfigRows(std::unique_ptr<ConfigRows> all, std::vector<int64_t> keep, int64_t config_nodes)
      : all_(std::move(all)),
        keep_(std::move(keep)),
        row_values_(config_nodes * kLayoutConfigDim),
        scratch_rows_(std::max<int64_t>(1, (int64_t{4} << 20) / (row_values_ * 4))) {}
  void read(int64_t count, float* dest) override {
    GST_CHECK(next_ + count <= static_cast<int64_t>(keep_.size()),
              "kept configs read past the end");
    while (count > 0) {
      int64_t skip = keep_[next_] - position_;
      while (skip > 0) {
        int64_t n = std::min(skip, scratch_rows_);
        scratch_.resize(n * row_values_);
        all_->read(n, scratch_.data());
        position_ += n;
        skip -= n;
      }
      int64_t run = 1;  // consecutive kept configs
      while (run < count && keep_[next_ + run] == keep_[next_] + run) ++run;
      all_->read(run, dest);
      dest += run * row_values_;
      position_ += run;
      next_ += run;
      count -= run;
    }
  }

 private:
  std::unique_ptr<ConfigRows> all_;
  std::vector<int64_t> keep_;
  int64_t row_values_, scratch_rows_;
  int64_t next_ = 0, position_ = 0;  // next kept config, next config of the source
  std::vector<float> scratch_;
};

}  // namespace

MemoryGraphSource::MemoryGraphSource(Task task,
                                     std::vector<std::pair<std::string, Graph>> split_graphs)
    : task_(task) {
  for (auto& [split, graph] : split_graphs) {
    inputs_.push_back({graph.id, split, "memory:" + graph.id, graph_bytes(graph), graphs_.size()});
    graphs_.push_back(std::move(graph));
  }
}

Graph MemoryGraphSource::load(const GraphInput& input, int64_t stream_above) const {
  GST_CHECK(input.key < graphs_.size(), "no graph {} in memory", input.key);
  const Graph& g = graphs_[input.key];
  return streams(g, stream_above) ? without_config_feat(g) : g;
}

std::unique_ptr<ConfigRows> MemoryGraphSource::config_rows(const GraphInput& input, int64_t configs,
                                                           int64_t config_nodes) const {
  GST_CHECK(input.key < graphs_.size(), "no graph {} in memory", input.key);
  return std::make_unique<MemoryConfigRows>(graphs_[input.key], configs, config_nodes);
}

CollectionSource::CollectionSource(const fs::path& input, const std::string& name,
                                   const std::vector<std::string>& splits)
    : collection_(Collection::open(input, name)), files_(collection_.files(splits)) {
  for (size_t i = 0; i < files_.size(); ++i) {
    std::error_code ec;
    auto bytes = fs::file_size(files_[i].path, ec);
    inputs_.push_back({files_[i].id, files_[i].split, files_[i].path.string(),
                       ec ? 0 : static_cast<int64_t>(bytes), i});
  }
}

Graph CollectionSource::load(const GraphInput& input, int64_t stream_above) const {
  GST_CHECK(input.key < files_.size(), "no file {} in collection {}", input.key,
            collection_.dir().string());
  const GraphFile& file = files_[input.key];
  GraphReadOptions options = collection_.read_options(file);
  options.stream_config_feat_above = stream_above;
  return read_graph(file.path, collection_.name().task, options);
}

std::unique_ptr<ConfigRows> CollectionSource::config_rows(const GraphInput& input, int64_t configs,
                                                          int64_t config_nodes) const {
  GST_CHECK(input.key < files_.size(), "no file {} in collection {}", input.key,
            collection_.dir().string());
  return std::make_unique<NpzConfigRows>(files_[input.key].path, configs, config_nodes);
}

MemoryPlan memory_plan(const ShardOptions& o) {
  // A quarter for the scan cache; a quarter for the graphs in flight (2 x workers, each held
  // about three times over: read, split into segments, encoded); a quarter for the blocks of the
  // graphs being streamed (one per shard file at once, up to the workers; each has two decoded
  // blocks, one being read, and one block's encoded chunks); the rest for everything else (node
  // arrays, HDF5 and zlib state, the program itself).
  const int64_t budget = o.memory_bytes;
  const int64_t in_flight = 2 * static_cast<int64_t>(std::max(o.workers, 1));
  MemoryPlan plan;
  plan.cache_bytes = std::min(o.cache_bytes, budget / 4);
  plan.stream_above = o.stream_above_bytes >= 0 ? o.stream_above_bytes : budget / (12 * in_flight);
  // The block size decides how a streamed graph's chunks interleave in its file, so it depends
  // on the shard count, never on the workers: the same bytes with any --workers.
  const int most_streams = std::clamp(o.shards, 1, kMostStreams);
  plan.streams = std::clamp(o.workers, 1, most_streams);
  plan.block_bytes = std::max<int64_t>(budget / (16 * most_streams), 1 << 20);
  return plan;
}

std::string ShardSummary::line() const {
  double mb_in = input_bytes / 1e6, mb_out = store_bytes / 1e6;
  return fmt::format(
      "{} graphs ({} bad skipped{}{}), {} segments, edge cut {:.2f}% ({} of {} edges), "
      "{:.1f} MB in -> {:.1f} MB stored ({:.2f}x), {:.1f} s ({:.1f} graphs/s, {:.1f} MB/s)",
      graphs, skipped_bad, streamed > 0 ? fmt::format(", {} streamed", streamed) : "",
      subset > 0 ? fmt::format(", {} cut to their kept configs", subset) : "", segments,
      total_edges > 0 ? 100.0 * cut_edges / total_edges : 0.0, cut_edges, total_edges, mb_in,
      mb_out, mb_in > 0 ? mb_out / mb_in : 0.0, seconds, seconds > 0 ? graphs / seconds : 0.0,
      seconds > 0 ? mb_in / seconds : 0.0);
}

namespace {

int config_dim(Task task) { return task == Task::Layout ? kLayoutConfigDim : kTileConfigDim; }

// What the scan pass learns about one input graph.
struct Scanned {
  bool bad = false;
  std::string reason;
  int64_t nodes = 0, edges = 0, configs = 0, config_nodes = 0;
  bool has_runtime = true;
  bool streamed = false;       // config_feat too big to hold: written block by block
  int64_t source_configs = 0;  // configs in the source; more than `configs` under --max-configs
  std::vector<int64_t> kept;   // the configs kept (ascending) when fewer than source_configs
  // Train graphs only. Config statistics of a streamed graph come from its write pass.
  std::unique_ptr<FeatureStats> node_stats, config_stats;
  std::unique_ptr<Graph> graph;  // kept for the write pass while the cache has room
};

// Flushes a file (or directory) to the device, so a renamed store survives a crash.
void sync_path(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail("cannot open {} to sync it: {}", path.string(), std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) fail("cannot sync {} to disk: {}", path.string(), std::strerror(err));
}

// The store directory while a run writes it: temporary files are removed unless committed.
class StoreDir {
 public:
  StoreDir(const fs::path& dir, bool overwrite) : dir_(dir) {
    std::error_code ec;
    if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
      input_error("store path {} exists and is not a directory", dir.string());
    if (fs::exists(dir / schema::kManifestFile) && !overwrite)
      input_error("{} already holds a complete store ({} exists); pass --overwrite to replace it",
                  dir.string(), schema::kManifestFile);
    created_dir_ = !fs::exists(dir, ec);
    fs::create_directories(dir, ec);
    if (ec) fail("cannot create store directory {}: {}", dir.string(), ec.message());
    remove_leftovers();
    probe_writable();
  }

  ~StoreDir() {
    if (committed_) return;
    std::error_code ec;
    for (const auto& path : temporaries_) fs::remove(path, ec);
    if (created_dir_ && fs::is_empty(dir_, ec)) fs::remove(dir_, ec);
  }

  // A temporary name for `name`, removed on failure.
  fs::path temporary(const std::string& name) {
    fs::path path = dir_ / fmt::format("{}.tmp-{}", name, ::getpid());
    temporaries_.push_back(path);
    return path;
  }

  // Renames the shards into place, then writes the manifest last.
  void commit(const std::vector<std::pair<fs::path, std::string>>& shards, const Manifest& m) {
    std::error_code ec;
    // An old store stops looking complete before any of its files change.
    fs::remove(dir_ / schema::kManifestFile, ec);
    if (ec) fail("cannot remove the old manifest in {}: {}", dir_.string(), ec.message());
    std::set<std::string> kept;
    for (const auto& [tmp, name] : shards) {
      sync_path(tmp);
      fs::rename(tmp, dir_ / name, ec);
      if (ec) fail("cannot rename {} to {}: {}", tmp.string(), name, ec.message());
      kept.insert(name);
    }
    for (const auto& entry : fs::directory_iterator(dir_)) {
      std::string name = entry.path().filename().string();
      if (is_shard_name(name) && !kept.count(name)) fs::remove(entry.path(), ec);
    }
    fs::path tmp = temporary(schema::kManifestFile);
    m.write(tmp);
    sync_path(tmp);
    fs::rename(tmp, dir_ / schema::kManifestFile, ec);
    if (ec) fail("cannot rename {} into place: {}", tmp.string(), ec.message());
    sync_path(dir_);
    committed_ = true;
  }

 private:
  static bool is_shard_name(const std::string& name) {
    return name.rfind("shard-", 0) == 0 && name.size() > 3 &&
           name.compare(name.size() - 3, 3, ".h5") == 0;
  }

  // Temporary files of an earlier run that was killed before it could clean up.
  void remove_leftovers() {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
      std::string name = entry.path().filename().string();
      bool ours = name.rfind("shard-", 0) == 0 || name.rfind(schema::kManifestFile, 0) == 0;
      if (ours && name.find(".tmp-") != std::string::npos) {
        spdlog::warn("removing {} left by an interrupted gst shard run", entry.path().string());
        fs::remove(entry.path(), ec);
      }
    }
  }

  void probe_writable() {
    fs::path probe = dir_ / fmt::format(".write-probe.tmp-{}", ::getpid());
    int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) fail("cannot write to store directory {}: {}", dir_.string(), std::strerror(errno));
    ::close(fd);
    fs::remove(probe);
  }

  fs::path dir_;
  bool created_dir_ = false;
  bool committed_ = false;
  std::vector<fs::path> temporaries_;
};

void check_options(const ShardOptions& o) {
  if (o.shards < 1) input_error("--shards must be at least 1, got {}", o.shards);
  if (o.segment_size < 1) input_error("--segment-size must be at least 1, got {}", o.segment_size);
  if (o.workers < 1) input_error("--workers must be at least 1, got {}", o.workers);
  if (o.compression_level < 0 || o.compression_level > 9)
    input_error("--compression must be 0..9, got {}", o.compression_level);
  if (o.splits.empty()) input_error("--splits names no split");
  if (o.max_configs < 0 || o.max_configs == 1)
    input_error("--max-configs must be at least 2 (or 0 to keep every config), got {}",
                o.max_configs);
  if (o.memory_bytes < (int64_t{64} << 20))
    input_error("--memory-mb must be at least 64, got {}", o.memory_bytes >> 20);
  std::set<std::string> seen;
  for (const auto& s : o.splits) {
    if (s.empty() || s.find('/') != std::string::npos)
      input_error("--splits: '{}' is not a split name", s);
    if (!seen.insert(s).second) input_error("--splits names '{}' twice", s);
  }
}

// The inputs of the chosen splits, grouped by split in option order, ids sorted.
std::vector<GraphInput> selected_inputs(const GraphSource& source, const ShardOptions& o) {
  std::vector<GraphInput> out;
  for (const auto& split : o.splits) {
    std::vector<GraphInput> part;
    for (const auto& in : source.inputs())
      if (in.split == split) part.push_back(in);
    std::sort(part.begin(), part.end(),
              [](const GraphInput& a, const GraphInput& b) { return a.id < b.id; });
    for (size_t i = 1; i < part.size(); ++i)
      if (part[i].id == part[i - 1].id)
        input_error("graph id '{}' appears twice in split {} ({} and {})", part[i].id, split,
                    part[i - 1].source, part[i].source);
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

// ---- scan: read and validate every graph before anything is written ----

// The graphs the scan found and the node statistics of the train split.
struct ScanResult {
  std::vector<Scanned> graphs;  // one per input
  FeatureStats node{kNodeFeatureDim};
};

// One input graph as the store keeps it: read and, under --max-configs, cut to the chosen configs
// (a streamed graph's config_feat is cut as it is read: see SubsetConfigRows). Sets *streamed,
// *source_configs and *kept.
Graph load_kept(const GraphSource& source, const GraphInput& input, const ShardOptions& o,
                int64_t stream_above, bool* streamed, int64_t* source_configs,
                std::vector<int64_t>* kept) {
  Graph g = source.load(input, stream_above);
  *streamed = streams(g, stream_above) && config_feat_streamed(g);
  *source_configs = g.num_configs();
  check_graph_arrays(g, input.source, *streamed);  // finite runtimes before they are ranked
  kept->clear();
  if (o.max_configs > 0 && g.num_configs() > o.max_configs) {
    *kept = choose_configs(g.runtime, o.max_configs, o.max_configs_seed, g.id);
    keep_configs(&g, *kept);
  }
  return g;
}

// Reads and checks one input; a bad one is returned marked when --skip-bad allows it.
Scanned scan_graph(const GraphSource& source, const GraphInput& input, Task task,
                   const ShardOptions& o, int64_t stream_above) {
  Scanned s;
  Graph g;
  try {
    g = load_kept(source, input, o, stream_above, &s.streamed, &s.source_configs, &s.kept);
    if (g.task != task) input_error("{}: graph of the other task", input.source);
  } catch (const InputError& e) {
    if (!o.skip_bad) throw;
    s.bad = true;
    s.reason = e.what();
    return s;
  }
  s.nodes = g.num_nodes;
  s.edges = g.num_edges();
  s.configs = g.num_configs();
  s.config_nodes = g.num_config_nodes();
  s.has_runtime = g.has_runtime;
  if (input.split == "train") {
    s.node_stats = std::make_unique<FeatureStats>(kNodeFeatureDim);
    s.node_stats->add(g.node_feat);
    if (!s.streamed) {
      BlockedFeatureStats config(config_dim(task));
      config.add(g.config_feat.data(),
                 static_cast<int64_t>(g.config_feat.size()) / config_dim(task));
      s.config_stats = std::make_unique<FeatureStats>(config.finish());
    }
  }
  s.graph = std::make_unique<Graph>(std::move(g));
  return s;
}

// Pass 1 over all inputs on the workers; graphs that fit o.cache_bytes stay for the write pass.
ScanResult scan_inputs(const GraphSource& source, const std::vector<GraphInput>& inputs,
                       const ShardOptions& o, const MemoryPlan& memory) {
  const Task task = source.task();
  ScanResult out;
  out.graphs.resize(inputs.size());
  int64_t cached_bytes = 0;
  Progress progress("checking graphs", static_cast<int64_t>(inputs.size()));
  ordered_parallel<Scanned>(
      inputs.size(), o.workers, 2 * static_cast<size_t>(o.workers),
      [&](size_t i) { return scan_graph(source, inputs[i], task, o, memory.stream_above); },
      [&](size_t i, Scanned s) {
        if (s.bad) spdlog::warn("skipping bad input {}: {}", inputs[i].source, s.reason);
        if (s.node_stats) out.node.merge(*s.node_stats);
        s.node_stats.reset();
        if (s.graph && cached_bytes + graph_bytes(*s.graph) <= memory.cache_bytes)
          cached_bytes += graph_bytes(*s.graph);
        else
          s.graph.reset();
        out.graphs[i] = std::move(s);
        progress.advance(1, static_cast<double>(inputs[i].bytes));
      });
  progress.finish();
  return out;
}

// ---- plan: the manifest's graph list, the shard of every graph, the writing order ----

struct StorePlan {
  Manifest manifest;
  std::vector<size_t> input_of;  // manifest graph -> input
  std::vector<int64_t> order;    // manifest graphs in writing order: shard by shard
};

// The manifest's header fields and its graph list (good inputs, in input order).
void list_graphs(const std::vector<GraphInput>& inputs, const ScanResult& scan,
                 const ShardOptions& o, int64_t skipped_bad, StorePlan* plan) {
  Manifest& m = plan->manifest;
  m.collection = o.collection;
  m.partitioner = to_string(o.partitioner);
  m.segment_size = o.segment_size;
  m.options = {o.input, o.splits, o.compression_level, o.workers, 0};
  m.options.max_configs = o.max_configs;
  m.options.max_configs_seed = o.max_configs_seed;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Scanned& s = scan.graphs[i];
    if (s.bad) {
      ++skipped_bad;
      continue;
    }
    GraphEntry e;
    e.index = static_cast<int64_t>(m.graphs.size());
    e.id = inputs[i].id;
    e.split = inputs[i].split;
    e.num_nodes = s.nodes;
    e.num_edges = s.edges;
    e.num_configs = s.configs;
    e.source_configs = s.source_configs;
    e.num_config_nodes = s.config_nodes;
    e.has_runtime = s.has_runtime;
    m.graphs.push_back(e);
    plan->input_of.push_back(i);
  }
  m.options.skipped_bad = skipped_bad;
  if (m.graphs.empty())
    input_error("no graphs to shard in splits {} of {}", fmt::join(o.splits, ","), o.input);
  for (const auto& split : o.splits) m.split_counts[split] = 0;
  for (const auto& g : m.graphs) ++m.split_counts[g.split];
  m.node_columns = scan.node.summary();
}

// Graphs to shards balanced by work; the writing order goes shard by shard.
void assign_graphs(int shards, StorePlan* plan) {
  Manifest& m = plan->manifest;
  std::vector<int64_t> work;
  for (const auto& g : m.graphs) work.push_back(g.work());
  std::vector<int> shard_of = assign_shards(work, shards);
  std::vector<int64_t> totals = shard_work(work, shard_of, shards);
  m.shards.resize(shards);
  for (int s = 0; s < shards; ++s) {
    m.shards[s].file = schema::shard_file_name(s);
    m.shards[s].work = totals[s];
    for (size_t g = 0; g < m.graphs.size(); ++g)
      if (shard_of[g] == s) {
        m.graphs[g].shard = s;
        m.shards[s].graphs.push_back(static_cast<int64_t>(g));
        plan->order.push_back(static_cast<int64_t>(g));
      }
  }
}

StorePlan plan_store(Task task, const std::vector<GraphInput>& inputs, const ScanResult& scan,
                     const ShardOptions& o) {
  StorePlan plan;
  plan.manifest.task = task;
  list_graphs(inputs, scan, o, o.skipped_before, &plan);
  assign_graphs(o.shards, &plan);
  return plan;
}

// ---- write: partition and encode on the workers, write shard by shard on this thread; the
// streamed graphs of finished shards stream on threads of their own ----

// The shard files of a store in the making, opened in order under temporary names. A shard's
// streamed graphs are written after its other graphs, on a thread of their own that then closes
// the file, while the next shards fill: up to `streams` files at once, so several big graphs
// stream in parallel, and each file is still written in one fixed order (the same bytes with any
// number of workers).
class ShardFiles {
 public:
  ShardFiles(StoreDir* store, Manifest* manifest, Task task, const FaultPlan* faults, int streams)
      : store_(store), manifest_(manifest), task_(task), faults_(faults), streams_(streams) {}
  ~ShardFiles() { wait_for(0); }
  ShardFiles(const ShardFiles&) = delete;
  ShardFiles& operator=(const ShardFiles&) = delete;

  // The writer of `shard`, handing the shards before it over to be finished (empty ones still
  // get a file). Rethrows the first failure of a finishing shard.
  ShardFileWriter& open_through(int shard) {
    while (current_ < shard) {
      if (writer_) hand_over();
      ++current_;
      std::string name = schema::shard_file_name(current_);
      written_.emplace_back(store_->temporary(name), name);
      writer_ = std::make_unique<ShardFileWriter>(written_.back().first, task_, current_);
    }
    rethrow_failure();
    return *writer_;
  }

  // A streamed graph's config_feat for the current shard, written once its other graphs are in.
  void defer(std::function<void(ShardFileWriter&)> stream) {
    deferred_.push_back(std::move(stream));
  }

  // Finishes every shard; returns (temporary, final name) of every shard, in order.
  std::vector<std::pair<fs::path, std::string>> close_all(int shards) {
    open_through(shards - 1);
    hand_over();
    wait_for(0);
    rethrow_failure();
    return written_;
  }

 private:
  // Streams the current shard's deferred graphs and closes it on a thread of its own, once
  // fewer than `streams` shards are being finished.
  void hand_over() {
    wait_for(streams_ - 1);
    rethrow_failure();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++running_;
      for (int shard : finished_) threads_.at(shard).join();  // no thread kept per shard
      for (int shard : finished_) threads_.erase(shard);
      finished_.clear();
    }
    threads_[current_] = std::thread([this, shard = current_, writer = std::move(writer_),
                                      streams = std::move(deferred_)]() mutable {
      try {
        for (auto& stream : streams) stream(*writer);
        finish(*writer, shard);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!failure_) failure_ = std::current_exception();
      }
      writer.reset();
      std::lock_guard<std::mutex> lock(mutex_);
      --running_;
      finished_.push_back(shard);
      done_.notify_all();
    });
    deferred_.clear();
  }

  // Closes a shard and records its size and checksum.
  void finish(ShardFileWriter& writer, int shard) {
    writer.close();
    ShardInfo& entry = manifest_->shards[shard];
    entry.bytes = static_cast<int64_t>(fs::file_size(writer.path()));
    entry.checksum = file_checksum(writer.path());
    faults_->hit("shard.file-written", /*rank=*/0, shard + 1);
  }

  // Waits until at most `running` shards are being finished (0: joins every thread).
  void wait_for(int running) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return running_ <= running; });
    lock.unlock();
    if (running == 0) {
      for (auto& [shard, thread] : threads_) thread.join();
      threads_.clear();
      finished_.clear();
    }
  }

  void rethrow_failure() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (failure_) std::rethrow_exception(failure_);
  }

  StoreDir* store_;
  Manifest* manifest_;
  Task task_;
  const FaultPlan* faults_;
  const int streams_;
  int current_ = -1;
  std::unique_ptr<ShardFileWriter> writer_;
  std::vector<std::function<void(ShardFileWriter&)>> deferred_;
  std::vector<std::pair<fs::path, std::string>> written_;
  std::map<int, std::thread> threads_;  // by shard, until joined
  std::vector<int> finished_;           // shards whose thread has ended
  std::mutex mutex_;
  std::condition_variable done_;
  int running_ = 0;
  std::exception_ptr failure_;
};

// One graph ready for its shard; a streamed graph's config_feat follows from its source.
struct EncodedEntry {
  EncodedGraph encoded;
  std::unique_ptr<StreamedLayout> streamed;
};

// Partitions and encodes one graph (the scan's cached copy, or read again); records its segment
// offsets and cut edges in its manifest entry.
EncodedEntry encode_entry(const GraphSource& source, const GraphInput& input, Scanned* scanned,
                          GraphEntry* entry, const ShardOptions& o, const MemoryPlan& memory) {
  std::unique_ptr<Graph> cached = std::move(scanned->graph);
  bool streamed = scanned->streamed;
  int64_t source_configs = scanned->source_configs;
  std::vector<int64_t> kept;
  Graph g =
      cached ? std::move(*cached)
             : load_kept(source, input, o, memory.stream_above, &streamed, &source_configs, &kept);
  if (g.num_nodes != entry->num_nodes || g.num_configs() != entry->num_configs ||
      streamed != scanned->streamed || source_configs != scanned->source_configs)
    input_error("{} changed while gst shard was reading it", input.source);
  Partition p = partition_graph(g, o.partitioner, o.segment_size);
  SegmentedGraph sg = segment_graph(g, entry->split, p);
  entry->segment_offsets = sg.offsets;
  entry->cut_edges = sg.cut_edges;
  EncodedEntry out;
  out.encoded = encode_graph(sg, entry->index, o.compression_level, scanned->streamed);
  if (scanned->streamed) out.streamed = std::make_unique<StreamedLayout>(StreamedLayout::of(sg));
  return out;
}

// One pass over a streamed graph's node_config_feat, a block at a time (the next block is read,
// and train graphs' config statistics taken, while this one is encoded), into config_feat
// datasets of int8 codes or f32. A NotInt8Codes leaves no dataset behind.
void stream_config_pass(const GraphSource& source, const GraphInput& input,
                        const StreamedLayout& layout, ShardFileWriter& writer,
                        const ShardOptions& o, const MemoryPlan& memory, bool int8,
                        Scanned* scanned) {
  const int64_t C = layout.num_configs, M = layout.num_config_nodes;
  const int64_t row_values = M * kLayoutConfigDim;
  const int64_t block = std::clamp<int64_t>(
      memory.block_bytes / (row_values * static_cast<int64_t>(sizeof(float))), 1, C);
  spdlog::info("{}: streaming node_config_feat [{}, {}, {}] ({:.0f} MB) in blocks of {} configs",
               input.source, C, M, kLayoutConfigDim, config_feat_bytes(C, M) / 1e6, block);
  std::unique_ptr<ConfigRows> rows = source.config_rows(input, scanned->source_configs, M);
  if (scanned->source_configs != C) {
    GST_CHECK(static_cast<int64_t>(scanned->kept.size()) == C, "graph {}: {} configs kept, not {}",
              input.id, scanned->kept.size(), C);
    rows = std::make_unique<SubsetConfigRows>(std::move(rows), scanned->kept, M);
  }
  // The workers' threads are shared among the graphs streaming at once.
  StreamedConfigWriter out(writer.file(), layout, o.compression_level,
                           std::max(1, o.workers / memory.streams), int8);
  std::optional<BlockedFeatureStats> stats;
  if (input.split == "train") stats.emplace(kLayoutConfigDim);
  std::vector<float> current(block * row_values), next(block * row_values);
  auto read_block = [&](int64_t first, std::vector<float>* dest) {
    int64_t n = std::min(block, C - first);
    return std::async(std::launch::async, [&rows, &stats, n, M, dest] {
      rows->read(n, dest->data());
      if (stats) stats->add(dest->data(), n * M);
    });
  };
  Progress progress(fmt::format("configs of {}", input.id), C);
  std::future<void> pending = read_block(0, &next);
  for (int64_t first = 0; first < C; first += block) {
    pending.get();
    current.swap(next);
    if (first + block < C) pending = read_block(first + block, &next);
    int64_t n = std::min(block, C - first);
    try {
      out.add(current.data(), n);
    } catch (const h5::Failure& e) {
      if (pending.valid()) pending.wait();
      fail("{}: writing config_feat of graph {} ({}): {}", writer.path().string(), input.id,
           input.source, e.what());
    } catch (const NotInt8Codes&) {
      if (pending.valid()) pending.wait();
      out.discard();
      throw;
    } catch (...) {
      if (pending.valid()) pending.wait();
      throw;
    }
    progress.advance(n, static_cast<double>(n * row_values * sizeof(float)));
  }
  out.finish();
  progress.finish();
  if (stats) scanned->config_stats = std::make_unique<FeatureStats>(stats->finish());
}

// A streamed graph's config_feat: int8 codes (real layout configs are dimension indices and -1),
// or f32 again from the first config when a value turns out not to be one.
void stream_config_feat(const GraphSource& source, const GraphInput& input,
                        const StreamedLayout& layout, ShardFileWriter& writer,
                        const ShardOptions& o, const MemoryPlan& memory, Scanned* scanned) {
  try {
    stream_config_pass(source, input, layout, writer, o, memory, true, scanned);
  } catch (const NotInt8Codes& e) {
    spdlog::warn(
        "{}: {}; streaming its node_config_feat again as float32 (the int8 chunks "
        "written so far stay as unused space in the shard file)",
        input.source, e.what());
    stream_config_pass(source, input, layout, writer, o, memory, false, scanned);
  }
}

// Pass 2: every planned graph into its shard file; returns the temporary shard files.
std::vector<std::pair<fs::path, std::string>> write_shards(
    const GraphSource& source, const std::vector<GraphInput>& inputs, ScanResult* scan,
    StorePlan* plan, const ShardOptions& o, const MemoryPlan& memory, StoreDir* store,
    const FaultPlan& faults) {
  Manifest& m = plan->manifest;
  ShardFiles files(store, &m, source.task(), &faults, memory.streams);
  Progress progress("writing graphs", static_cast<int64_t>(plan->order.size()));
  ordered_parallel<EncodedEntry>(
      plan->order.size(), o.workers, 2 * static_cast<size_t>(o.workers),
      [&](size_t k) {
        size_t i = plan->input_of[plan->order[k]];
        // Each worker writes only its own graph's entry.
        return encode_entry(source, inputs[i], &scan->graphs[i], &m.graphs[plan->order[k]], o,
                            memory);
      },
      [&](size_t k, EncodedEntry entry) {
        size_t i = plan->input_of[plan->order[k]];
        ShardFileWriter& writer = files.open_through(m.graphs[plan->order[k]].shard);
        writer.add(entry.encoded);
        entry.encoded = {};
        if (entry.streamed) {
          std::shared_ptr<const StreamedLayout> layout = std::move(entry.streamed);
          files.defer([&, i, layout](ShardFileWriter& shard_writer) {
            stream_config_feat(source, inputs[i], *layout, shard_writer, o, memory,
                               &scan->graphs[i]);
          });
        }
        progress.advance(1, static_cast<double>(inputs[i].bytes));
      });
  auto written = files.close_all(o.shards);
  progress.finish();
  return written;
}

// Config column statistics of the train graphs, merged in input order (streamed graphs get theirs
// in the write pass).
ColumnStats config_columns(Task task, const ScanResult& scan) {
  FeatureStats config(config_dim(task));
  for (const auto& s : scan.graphs)
    if (s.config_stats) config.merge(*s.config_stats);
  return config.summary();
}

// Store-wide edge totals in the manifest, and the summary's counts.
ShardSummary summarize(Manifest* m, const std::vector<GraphInput>& inputs, const ScanResult& scan) {
  ShardSummary summary;
  for (const auto& g : m->graphs) {
    m->total_edges += g.num_edges;
    m->cut_edges += g.cut_edges;
    summary.segments += g.num_segments();
    summary.nodes += g.num_nodes;
  }
  for (const auto& s : m->shards) summary.store_bytes += s.bytes;
  for (const auto& in : inputs) summary.input_bytes += in.bytes;
  summary.graphs = static_cast<int64_t>(m->graphs.size());
  summary.skipped_bad = m->options.skipped_bad;
  summary.total_edges = m->total_edges;
  summary.cut_edges = m->cut_edges;
  for (const auto& s : scan.graphs) {
    summary.streamed += s.streamed ? 1 : 0;
    summary.subset += !s.bad && s.source_configs > s.configs ? 1 : 0;
  }
  return summary;
}

}  // namespace

ShardSummary shard_collection(const GraphSource& source, const ShardOptions& o) {
  check_options(o);
  auto start = std::chrono::steady_clock::now();
  const FaultPlan faults = FaultPlan::from_environment();
  StoreDir store(o.out, o.overwrite);
  std::vector<GraphInput> inputs = selected_inputs(source, o);
  const MemoryPlan memory = memory_plan(o);
  ScanResult scan = scan_inputs(source, inputs, o, memory);
  StorePlan plan = plan_store(source.task(), inputs, scan, o);
  auto written = write_shards(source, inputs, &scan, &plan, o, memory, &store, faults);
  plan.manifest.config_columns = config_columns(source.task(), scan);
  ShardSummary summary = summarize(&plan.manifest, inputs, scan);
  store.commit(written, plan.manifest);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace gst
