#include "sharding/shard_collection.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "common/enum_names.h"
#include "common/errors.h"
#include "common/fault.h"
#include "common/ordered_parallel.h"
#include "common/progress.h"
#include "sharding/feature_stats.h"
#include "sharding/shard_assign.h"
#include "sharding/shard_writer.h"
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

}  // namespace

MemoryGraphSource::MemoryGraphSource(Task task,
                                     std::vector<std::pair<std::string, Graph>> split_graphs)
    : task_(task) {
  for (auto& [split, graph] : split_graphs) {
    inputs_.push_back({graph.id, split, "memory:" + graph.id, graph_bytes(graph), graphs_.size()});
    graphs_.push_back(std::move(graph));
  }
}

Graph MemoryGraphSource::load(const GraphInput& input) const {
  GST_CHECK(input.key < graphs_.size(), "no graph {} in memory", input.key);
  return graphs_[input.key];
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

Graph CollectionSource::load(const GraphInput& input) const {
  GST_CHECK(input.key < files_.size(), "no file {} in collection {}", input.key,
            collection_.dir().string());
  return collection_.load(files_[input.key]);
}

std::string ShardSummary::line() const {
  double mb_in = input_bytes / 1e6, mb_out = store_bytes / 1e6;
  return fmt::format(
      "{} graphs ({} bad skipped), {} segments, edge cut {:.2f}% ({} of {} edges), {:.1f} MB in "
      "-> {:.1f} MB stored ({:.2f}x), {:.1f} s ({:.1f} graphs/s, {:.1f} MB/s)",
      graphs, skipped_bad, segments, total_edges > 0 ? 100.0 * cut_edges / total_edges : 0.0,
      cut_edges, total_edges, mb_in, mb_out, mb_in > 0 ? mb_out / mb_in : 0.0, seconds,
      seconds > 0 ? graphs / seconds : 0.0, seconds > 0 ? mb_in / seconds : 0.0);
}

namespace {

// Node and config column statistics of train graphs.
struct TrainStats {
  FeatureStats node{kNodeFeatureDim}, config;
  explicit TrainStats(Task task)
      : config(task == Task::Layout ? kLayoutConfigDim : kTileConfigDim) {}
  void add(const Graph& g) {
    node.add(g.node_feat);
    config.add(g.config_feat);
  }
  void merge(const TrainStats& other) {
    node.merge(other.node);
    config.merge(other.config);
  }
};

// What the scan pass learns about one input graph.
struct Scanned {
  bool bad = false;
  std::string reason;
  int64_t nodes = 0, edges = 0, configs = 0, config_nodes = 0;
  bool has_runtime = true;
  std::unique_ptr<TrainStats> stats;  // train graphs only
  std::unique_ptr<Graph> graph;       // kept for the write pass while the cache has room
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

}  // namespace

ShardSummary shard_collection(const GraphSource& source, const ShardOptions& o) {
  check_options(o);
  auto start = std::chrono::steady_clock::now();
  const FaultPlan faults = FaultPlan::from_environment();
  const Task task = source.task();
  StoreDir store(o.out, o.overwrite);
  std::vector<GraphInput> inputs = selected_inputs(source, o);
  ShardSummary summary;
  summary.skipped_bad = o.skipped_before;
  const size_t window = 2 * static_cast<size_t>(o.workers);

  // Pass 1: read and validate every graph before writing anything; counts and train statistics.
  std::vector<Scanned> scanned(inputs.size());
  TrainStats train_stats(task);
  int64_t cached_bytes = 0;
  {
    Progress progress("checking graphs", static_cast<int64_t>(inputs.size()));
    ordered_parallel<Scanned>(
        inputs.size(), o.workers, window,
        [&](size_t i) {
          Scanned s;
          Graph g;
          try {
            g = source.load(inputs[i]);
            if (g.task != task) input_error("{}: graph of the other task", inputs[i].source);
            check_graph_arrays(g, inputs[i].source);
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
          if (inputs[i].split == "train") {
            s.stats = std::make_unique<TrainStats>(task);
            s.stats->add(g);
          }
          s.graph = std::make_unique<Graph>(std::move(g));
          return s;
        },
        [&](size_t i, Scanned s) {
          if (s.bad) spdlog::warn("skipping bad input {}: {}", inputs[i].source, s.reason);
          if (s.stats) train_stats.merge(*s.stats);
          s.stats.reset();
          // Graphs that fit the cache are not read a second time by the write pass.
          if (s.graph && cached_bytes + graph_bytes(*s.graph) <= o.cache_bytes)
            cached_bytes += graph_bytes(*s.graph);
          else
            s.graph.reset();
          scanned[i] = std::move(s);
          progress.advance(1, static_cast<double>(inputs[i].bytes));
        });
    progress.finish();
  }

  // The manifest's graph list and the balanced shard assignment.
  Manifest m;
  m.collection = o.collection;
  m.task = task;
  m.partitioner = to_string(o.partitioner);
  m.segment_size = o.segment_size;
  m.options = {o.input, o.splits, o.compression_level, o.workers, 0};
  std::vector<size_t> input_of;  // manifest graph -> input
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (scanned[i].bad) {
      ++summary.skipped_bad;
      continue;
    }
    GraphEntry e;
    e.index = static_cast<int64_t>(m.graphs.size());
    e.id = inputs[i].id;
    e.split = inputs[i].split;
    e.num_nodes = scanned[i].nodes;
    e.num_edges = scanned[i].edges;
    e.num_configs = scanned[i].configs;
    e.num_config_nodes = scanned[i].config_nodes;
    e.has_runtime = scanned[i].has_runtime;
    m.graphs.push_back(e);
    input_of.push_back(i);
  }
  m.options.skipped_bad = summary.skipped_bad;
  if (m.graphs.empty())
    input_error("no graphs to shard in splits {} of {}", fmt::join(o.splits, ","), o.input);
  for (const auto& split : o.splits) m.split_counts[split] = 0;
  for (const auto& g : m.graphs) ++m.split_counts[g.split];
  m.node_columns = train_stats.node.summary();
  m.config_columns = train_stats.config.summary();
  std::vector<int64_t> work;
  for (const auto& g : m.graphs) work.push_back(g.work());
  std::vector<int> shard_of = assign_shards(work, o.shards);
  std::vector<int64_t> totals = shard_work(work, shard_of, o.shards);
  m.shards.resize(o.shards);
  std::vector<int64_t> order;  // graphs in writing order: shard by shard
  for (int s = 0; s < o.shards; ++s) {
    m.shards[s].file = schema::shard_file_name(s);
    m.shards[s].work = totals[s];
    for (size_t g = 0; g < m.graphs.size(); ++g)
      if (shard_of[g] == s) {
        m.graphs[g].shard = s;
        m.shards[s].graphs.push_back(static_cast<int64_t>(g));
        order.push_back(static_cast<int64_t>(g));
      }
  }

  // Pass 2: partition and encode on the workers, write shard by shard on this thread.
  std::vector<std::pair<fs::path, std::string>> written;  // (temporary, final name)
  std::unique_ptr<ShardFileWriter> writer;
  int current = -1;
  auto finish_shard = [&] {
    writer->close();
    writer.reset();
    const fs::path& tmp = written.back().first;
    m.shards[current].bytes = static_cast<int64_t>(fs::file_size(tmp));
    m.shards[current].checksum = file_checksum(tmp);
    summary.store_bytes += m.shards[current].bytes;
    faults.hit("shard.file-written", /*rank=*/0, current + 1);
  };
  auto open_shards_through = [&](int shard) {
    while (current < shard) {
      if (writer) finish_shard();
      ++current;
      std::string name = schema::shard_file_name(current);
      written.emplace_back(store.temporary(name), name);
      writer = std::make_unique<ShardFileWriter>(written.back().first, task, current);
    }
  };
  {
    Progress progress("writing graphs", static_cast<int64_t>(order.size()));
    ordered_parallel<EncodedGraph>(
        order.size(), o.workers, window,
        [&](size_t k) {
          GraphEntry& e = m.graphs[order[k]];
          const GraphInput& in = inputs[input_of[order[k]]];
          std::unique_ptr<Graph> cached = std::move(scanned[input_of[order[k]]].graph);
          Graph g = cached ? std::move(*cached) : source.load(in);
          if (g.num_nodes != e.num_nodes || g.num_configs() != e.num_configs)
            input_error("{} changed while gst shard was reading it", in.source);
          Partition p = partition_graph(g, o.partitioner, o.segment_size);
          SegmentedGraph sg = segment_graph(g, e.split, p);
          // Each worker writes only its own graph's entry.
          e.segment_offsets = sg.offsets;
          e.cut_edges = sg.cut_edges;
          return encode_graph(sg, e.index, o.compression_level);
        },
        [&](size_t k, EncodedGraph encoded) {
          open_shards_through(m.graphs[order[k]].shard);
          writer->add(encoded);
          progress.advance(1, static_cast<double>(inputs[input_of[order[k]]].bytes));
        });
    open_shards_through(o.shards - 1);  // empty trailing shards still get a file
    finish_shard();
    progress.finish();
  }

  for (const auto& g : m.graphs) {
    m.total_edges += g.num_edges;
    m.cut_edges += g.cut_edges;
    summary.segments += g.num_segments();
    summary.nodes += g.num_nodes;
  }
  store.commit(written, m);

  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  summary.graphs = static_cast<int64_t>(m.graphs.size());
  summary.total_edges = m.total_edges;
  summary.cut_edges = m.cut_edges;
  for (size_t i = 0; i < inputs.size(); ++i) summary.input_bytes += inputs[i].bytes;
  return summary;
}

}  // namespace gst
