#include "store/segment_store.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>

#include "common/errors.h"
#include "store/chunk_codec.h"
#include "store/hdf5.h"
#include "store/schema.h"

namespace gst {
namespace {

// The HDF5 implementation: per-shard files opened on first use and kept open.
class Hdf5SegmentStore : public SegmentStore {
 public:
  explicit Hdf5SegmentStore(const std::filesystem::path& dir)
      : dir_(dir), manifest_(Manifest::read(dir)), files_(manifest_.shards.size()) {
    for (const auto& g : manifest_.graphs) by_split_[g.split].push_back(g.index);
  }

  const Manifest& manifest() const override { return manifest_; }
  const std::vector<GraphEntry>& graphs() const override { return manifest_.graphs; }

  std::vector<int64_t> split(const std::string& name) const override {
    auto it = by_split_.find(name);
    return it == by_split_.end() ? std::vector<int64_t>{} : it->second;
  }

  Segment load_segment(int64_t graph, int64_t segment,
                       const std::vector<int64_t>& configs) const override {
    const GraphEntry& g = entry(graph);
    GST_CHECK(segment >= 0 && segment < g.num_segments(), "graph '{}' has no segment {} (of {})",
              g.id, segment, g.num_segments());
    check_configs(g, configs);
    const std::string path = schema::segment_path(g.split, g.id, segment);
    return reading(g.shard, fmt::format("group /{}", path), [&] {
      // HDF5 calls lock one at a time; chunks are decoded outside the lock.
      return read_segment(h5::open_group(file(g.shard), path), g, segment, configs);
    });
  }

  // One segment's datasets from its open group.
  Segment read_segment(hid_t group, const GraphEntry& g, int64_t segment,
                       const std::vector<int64_t>& configs) const {
    Segment out;
    out.first_node = g.segment_offsets[segment];
    out.num_nodes = g.segment_offsets[segment + 1] - out.first_node;
    read_node_data(group, out.num_nodes, &out);
    out.edges = read_pairs<int32_t>(group, schema::kEdges, 0, out.num_nodes);
    out.cross_edges = read_pairs<int64_t>(group, schema::kCrossEdges, 0, g.num_nodes);
    if (manifest_.task == Task::Layout) {
      out.config_nodes = read_direct<int32_t>(group, schema::kConfigNodes);
      check_ids(schema::kConfigNodes, out.config_nodes, 0, out.num_nodes);
      out.config_feat = read_config_rows(group, g, configs, out.config_nodes.size());
    }
    return out;
  }

  Segment load_graph(int64_t graph, const std::vector<int64_t>& configs) const override {
    const GraphEntry& g = entry(graph);
    check_configs(g, configs);
    GST_CHECK(g.num_nodes < (int64_t{1} << 31), "graph '{}' is too large for 32-bit node ids",
              g.id);
    const int64_t k = static_cast<int64_t>(configs.size());
    Segment out;
    out.num_nodes = g.num_nodes;
    out.node_feat.reserve(g.num_nodes * kNodeFeatureDim);
    out.node_opcode.reserve(g.num_nodes);
    out.edges.reserve(2 * g.num_edges);
    std::vector<std::vector<float>> config_parts;
    for (int64_t s = 0; s < g.num_segments(); ++s) {
      Segment part = load_segment(graph, s, configs);
      int64_t first = part.first_node, end = first + part.num_nodes;
      out.node_feat.insert(out.node_feat.end(), part.node_feat.begin(), part.node_feat.end());
      out.node_opcode.insert(out.node_opcode.end(), part.node_opcode.begin(),
                             part.node_opcode.end());
      for (int32_t v : part.edges) out.edges.push_back(static_cast<int32_t>(v + first));
      // A cut edge is listed by both its segments: keep it once, with its source's segment.
      for (size_t e = 0; e + 1 < part.cross_edges.size(); e += 2)
        if (part.cross_edges[e] >= first && part.cross_edges[e] < end) {
          out.edges.push_back(static_cast<int32_t>(part.cross_edges[e]));
          out.edges.push_back(static_cast<int32_t>(part.cross_edges[e + 1]));
        }
      for (int32_t v : part.config_nodes)
        out.config_nodes.push_back(static_cast<int32_t>(v + first));
      config_parts.push_back(std::move(part.config_feat));
    }
    if (manifest_.task == Task::Layout) {
      // [k, m_s, 18] per segment -> [k, M, 18]
      const int64_t M = static_cast<int64_t>(out.config_nodes.size());
      const size_t row = kLayoutConfigDim;
      out.config_feat.resize(k * M * row);
      int64_t base = 0;
      for (const auto& part : config_parts) {
        int64_t m = k > 0 ? static_cast<int64_t>(part.size() / (k * row)) : 0;
        for (int64_t c = 0; c < k && m > 0; ++c)
          std::memcpy(out.config_feat.data() + (c * M + base) * row, part.data() + c * m * row,
                      m * row * sizeof(float));
        base += m;
      }
    }
    return out;
  }

  GraphConfigs load_configs(int64_t graph) const override {
    const GraphEntry& g = entry(graph);
    return reading_graph(g, [&] { return read_configs(open_graph_group(g), g); });
  }

  GraphConfigs read_configs(hid_t group, const GraphEntry& g) const {
    GraphConfigs out;
    out.runtime = read_checked<double>(group, schema::kRuntime, {g.num_configs});
    if (manifest_.task == Task::Tile) {
      out.normalizer = read_checked<double>(group, schema::kRuntimeNormalizer, {g.num_configs});
      out.tile_feat =
          read_checked<float>(group, schema::kTileConfigFeat, {g.num_configs, kTileConfigDim});
    }
    return out;
  }

  std::vector<int64_t> load_original_node_ids(int64_t graph) const override {
    const GraphEntry& g = entry(graph);
    return reading_graph(g, [&] {
      return read_checked<int64_t>(open_graph_group(g), schema::kOriginalNodeId, {g.num_nodes});
    });
  }

  Graph load_original(int64_t graph) const override {
    const GraphEntry& g = entry(graph);
    std::vector<int64_t> all(g.num_configs);
    for (int64_t c = 0; c < g.num_configs; ++c) all[c] = c;
    Segment whole = load_graph(graph, all);
    GraphConfigs configs = load_configs(graph);
    std::vector<int64_t> original = load_original_node_ids(graph);
    h5::Handle group = reading_graph(g, [&] { return open_graph_group(g); });
    reading_graph(g, [&] {
      check_permutation(schema::kOriginalNodeId, original);
      if (static_cast<int64_t>(whole.config_nodes.size()) != g.num_config_nodes)
        throw h5::Failure(
            fmt::format("the segments hold {} configurable nodes, the manifest says {}",
                        whole.config_nodes.size(), g.num_config_nodes));
    });

    Graph out;
    out.id = g.id;
    out.task = manifest_.task;
    out.num_nodes = g.num_nodes;
    out.node_feat.resize(whole.node_feat.size());
    out.node_opcode.resize(g.num_nodes);
    for (int64_t v = 0; v < g.num_nodes; ++v) {
      std::memcpy(&out.node_feat[original[v] * kNodeFeatureDim],
                  &whole.node_feat[v * kNodeFeatureDim], kNodeFeatureDim * sizeof(float));
      out.node_opcode[original[v]] = whole.node_opcode[v];
    }
    out.edges.reserve(whole.edges.size());
    for (int32_t v : whole.edges) out.edges.push_back(original[v]);
    out.runtime = std::move(configs.runtime);
    out.has_runtime = g.has_runtime;
    if (manifest_.task == Task::Layout) {
      const int64_t M = g.num_config_nodes, C = g.num_configs;
      std::vector<int64_t> order = reading_graph(g, [&] {
        auto values = read_checked<int64_t>(group, schema::kConfigNodeOrder, {g.num_config_nodes});
        check_permutation(schema::kConfigNodeOrder, values);
        return values;
      });
      out.config_node_ids.resize(M);
      out.config_feat.resize(whole.config_feat.size());
      for (int64_t j = 0; j < M; ++j) {
        out.config_node_ids[order[j]] = original[whole.config_nodes[j]];
        for (int64_t c = 0; c < C; ++c)
          std::memcpy(&out.config_feat[(c * M + order[j]) * kLayoutConfigDim],
                      &whole.config_feat[(c * M + j) * kLayoutConfigDim],
                      kLayoutConfigDim * sizeof(float));
      }
    } else {
      out.runtime_normalizer = std::move(configs.normalizer);
      out.config_feat = std::move(configs.tile_feat);
    }
    reading_graph(g, [&] {
      if (h5::exists(group, schema::kNodeSplits))
        out.node_splits = read_direct<int64_t>(group, schema::kNodeSplits);
    });
    return out;
  }

 private:
  const GraphEntry& entry(int64_t graph) const {
    GST_CHECK(graph >= 0 && graph < static_cast<int64_t>(manifest_.graphs.size()),
              "store {} has no graph {} (of {})", dir_.string(), graph, manifest_.graphs.size());
    return manifest_.graphs[graph];
  }

  void check_configs(const GraphEntry& g, const std::vector<int64_t>& configs) const {
    for (int64_t c : configs)
      GST_CHECK(c >= 0 && c < g.num_configs, "graph '{}' has no config {} (of {})", g.id, c,
                g.num_configs);
  }

  // The shard's file as the store's path was given (relative stays relative).
  std::filesystem::path shard_path(int shard) const { return dir_ / manifest_.shards[shard].file; }

  // Runs `read` on shard `shard`; an HDF5 failure inside becomes an InputError naming the shard
  // file, `object` (where in the file) and what to do: a damaged shard is found by verify and
  // fixed only by sharding again.
  template <typename F>
  auto reading(int shard, const std::string& object, F&& read) const -> decltype(read()) {
    try {
      return read();
    } catch (const h5::Failure& e) {
      input_error(
          "{}: cannot read {}: {}. The shard is damaged or was not written completely: run "
          "`gst shard --verify {}` and, if it reports problems, shard the collection again",
          shard_path(shard).string(), object, e.what(), dir_.string());
    }
  }

  template <typename F>
  auto reading_graph(const GraphEntry& g, F&& read) const -> decltype(read()) {
    return reading(g.shard, fmt::format("group /{}", schema::graph_path(g.split, g.id)),
                   std::forward<F>(read));
  }

  // The shard's file, opened (and its format checked) on first use. Caller holds the HDF5 lock.
  hid_t file(int shard) const {
    h5::Guard guard;
    h5::Handle& handle = files_[shard];
    if (!handle.valid()) handle = open_shard(shard);
    return handle;
  }

  h5::Handle open_shard(int shard) const {
    const std::filesystem::path path = shard_path(shard);
    if (!std::filesystem::exists(path))
      input_error(
          "store {}: shard file {} is missing: run `gst shard --verify {}` and shard the "
          "collection again",
          dir_.string(), path.string(), dir_.string());
    h5::Handle opened = reading(shard, "the file's HDF5 header (superblock and root group)",
                                [&] { return h5::open_file_read(path.string()); });
    std::string format = reading(shard, "the root group",
                                 [&] { return h5::read_attr_string(opened, schema::kAttrFormat); });
    if (format != schema::kFormat) input_error("{}: not a gst segment store shard", path.string());
    int64_t version = reading(shard, "the root group", [&] {
      return h5::read_attr_int(opened, schema::kAttrFormatVersion);
    });
    if (version != kStoreFormatVersion)
      input_error(
          "{}: shard format version {} is not the version this gst reads ({}): shard the "
          "collection again with this gst",
          path.string(), version, kStoreFormatVersion);
    return opened;
  }

  h5::Handle open_graph_group(const GraphEntry& g) const {
    return h5::open_group(file(g.shard), schema::graph_path(g.split, g.id));
  }

  // Reads a dataset and checks its shape against what the manifest promises.
  template <typename T>
  std::vector<T> read_checked(hid_t group, const char* name,
                              const std::vector<int64_t>& expected) const {
    std::vector<int64_t> shape;
    std::vector<T> values = read_direct<T>(group, name, &shape);
    if (shape != expected)
      throw h5::Failure(fmt::format("dataset '{}' has shape [{}], the manifest says [{}]", name,
                                    fmt::join(shape, ", "), fmt::join(expected, ", ")));
    return values;
  }

  // Ids the reader indexes with must lie in [lo, hi): a damaged shard must not make it read or
  // write outside its arrays.
  template <typename T>
  static void check_ids(const char* name, const std::vector<T>& ids, int64_t lo, int64_t hi) {
    for (T id : ids)
      if (id < lo || id >= hi)
        throw h5::Failure(fmt::format("dataset '{}' holds id {}, outside [{}, {})", name,
                                      static_cast<int64_t>(id), lo, hi));
  }

  // Every id of [0, ids.size()) exactly once.
  static void check_permutation(const char* name, const std::vector<int64_t>& ids) {
    const int64_t n = static_cast<int64_t>(ids.size());
    check_ids(name, ids, 0, n);
    std::vector<bool> seen(n);
    for (int64_t id : ids) {
      if (seen[id]) throw h5::Failure(fmt::format("dataset '{}' lists id {} twice", name, id));
      seen[id] = true;
    }
  }

  // An [x, 2] dataset of node ids in [lo, hi).
  template <typename T>
  std::vector<T> read_pairs(hid_t group, const char* name, int64_t lo, int64_t hi) const {
    std::vector<int64_t> shape;
    std::vector<T> values = read_direct<T>(group, name, &shape);
    if (!(shape.size() == 2 && shape[1] == 2) && !values.empty())
      throw h5::Failure(fmt::format("dataset '{}' has shape [{}], expected [x, 2]", name,
                                    fmt::join(shape, ", ")));
    check_ids(name, values, lo, hi);
    return values;
  }

  void read_node_data(hid_t group, int64_t n, Segment* out) const {
    out->node_feat = read_checked<float>(group, schema::kNodeFeat, {n, kNodeFeatureDim});
    out->node_opcode = read_checked<uint8_t>(group, schema::kNodeOpcode, {n});
  }

  // config_feat rows of the requested configs: [k, m, 18], in request order.
  std::vector<float> read_config_rows(hid_t group, const GraphEntry& g,
                                      const std::vector<int64_t>& configs, size_t m) const {
    std::vector<int64_t> shape;
    std::vector<float> rows = read_rows_direct<float>(group, schema::kConfigFeat, configs, &shape);
    const std::vector<int64_t> expected{g.num_configs, static_cast<int64_t>(m), kLayoutConfigDim};
    if (shape != expected)
      throw h5::Failure(fmt::format("dataset '{}' has shape [{}], the manifest says [{}]",
                                    schema::kConfigFeat, fmt::join(shape, ", "),
                                    fmt::join(expected, ", ")));
    return rows;
  }

  std::filesystem::path dir_;
  Manifest manifest_;
  std::map<std::string, std::vector<int64_t>> by_split_;
  mutable std::vector<h5::Handle> files_;
};

}  // namespace

std::shared_ptr<SegmentStore> SegmentStore::open(const std::filesystem::path& dir) {
  return std::make_shared<Hdf5SegmentStore>(dir);
}

}  // namespace gst
