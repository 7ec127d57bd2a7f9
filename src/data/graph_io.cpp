#include "data/graph_io.h"

#include <algorithm>
#include <cmath>

#include "common/errors.h"

namespace gst {
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// Reads the arrays of one graph from an open .npz or from memory, checking dtype kind and shape.
class ArraySource {
 public:
  ArraySource(NpzReader* reader, const NpzArrays* arrays, std::string where)
      : reader_(reader), arrays_(arrays), where_(std::move(where)) {}

  bool has(const std::string& key) const {
    return reader_ ? reader_->has(key) : arrays_->count(key) > 0;
  }

  // Reads `key` into values; `widths` gives the expected shape, -1 for a free dimension.
  template <typename T>
  std::vector<int64_t> read(const std::string& key, std::vector<T>& values,
                            const std::vector<int64_t>& widths) {
    std::vector<int64_t> shape = read_any(key, values);
    check_shape(key, shape, widths);
    return shape;
  }

  // Only the shape of `key`, from its .npy header (values left unread).
  std::vector<int64_t> shape_of(const std::string& key) {
    if (!has(key)) input_error("{}: missing key '{}'", where_, key);
    if (reader_) return reader_->stream(key).shape();
    return arrays_->at(key).shape;
  }

  // Reads `key` in whatever shape it has.
  template <typename T>
  std::vector<int64_t> read_any(const std::string& key, std::vector<T>& values) {
    if (!has(key)) input_error("{}: missing key '{}'", where_, key);
    std::vector<int64_t> shape;
    if (reader_) {
      reader_->read_as(key, values, shape);
    } else {
      const NpyArray& array = arrays_->at(key);
      shape = array.shape;
      std::string what = where_ + ": " + key;
      if constexpr (std::is_same_v<T, int64_t>) {
        values = array.to_int64(what);
      } else if constexpr (std::is_same_v<T, uint8_t>) {
        std::vector<int64_t> wide = array.to_int64(what);
        values.assign(wide.begin(), wide.end());
      } else if constexpr (std::is_same_v<T, float>) {
        values = array.to_float(what);
      } else {
        values = array.to_double(what);
      }
    }
    return shape;
  }

  void check_shape(const std::string& key, const std::vector<int64_t>& shape,
                   const std::vector<int64_t>& widths) const {
    bool ok = shape.size() == widths.size();
    for (size_t i = 0; ok && i < widths.size(); ++i) ok = widths[i] < 0 || shape[i] == widths[i];
    if (ok) return;
    std::string expected = "[";
    for (size_t i = 0; i < widths.size(); ++i)
      expected += (i ? ", " : "") + (widths[i] < 0 ? std::string("*") : std::to_string(widths[i]));
    input_error("{}: key '{}' has shape {}, expected {}", where_, key, shape_text(shape),
                expected + "]");
  }

  const std::string& where() const { return where_; }

 private:
  NpzReader* reader_;
  const NpzArrays* arrays_;
  std::string where_;
};

// Opcodes may be stored in any integer dtype: read wide, then range-check before narrowing.
std::vector<uint8_t> read_opcodes(ArraySource& src, int64_t n) {
  std::vector<int64_t> wide;
  src.read("node_opcode", wide, {n});
  std::vector<uint8_t> out(wide.size());
  for (size_t i = 0; i < wide.size(); ++i) {
    if (wide[i] < 0 || wide[i] >= kNumOpcodes)
      input_error("{}: key 'node_opcode' value {} at node {} is outside 0..{}", src.where(),
                  wide[i], i, kNumOpcodes - 1);
    out[i] = static_cast<uint8_t>(wide[i]);
  }
  return out;
}

Graph read_arrays(ArraySource& src, Task task, const std::string& id,
                  const GraphReadOptions& options) {
  Graph g;
  g.id = id;
  g.task = task;
  std::vector<int64_t> shape = src.read("node_feat", g.node_feat, {-1, kNodeFeatureDim});
  g.num_nodes = shape[0];
  if (g.num_nodes == 0) input_error("{}: key 'node_feat' has 0 nodes (N = 0)", src.where());
  g.node_opcode = read_opcodes(src, g.num_nodes);
  src.read("edge_index", g.edges, {-1, 2});

  int64_t configs = 0;
  bool streamed = false;
  if (task == Task::Layout) {
    src.read("node_config_ids", g.config_node_ids, {-1});
    int64_t m = static_cast<int64_t>(g.config_node_ids.size());
    std::vector<int64_t> shape = src.shape_of("node_config_feat");
    src.check_shape("node_config_feat", shape, {-1, m, kLayoutConfigDim});
    configs = shape[0];
    int64_t bytes = configs * m * kLayoutConfigDim * static_cast<int64_t>(sizeof(float));
    streamed = options.stream_config_feat_above >= 0 && bytes > options.stream_config_feat_above;
    if (!streamed) src.read("node_config_feat", g.config_feat, {-1, m, kLayoutConfigDim});
  } else {
    configs = src.read("config_feat", g.config_feat, {-1, kTileConfigDim})[0];
  }
  if (configs == 0) input_error("{}: the graph has 0 configs (C = 0)", src.where());

  bool runtime_present = src.has("config_runtime");
  if (runtime_present || !options.runtime_optional) {
    src.read("config_runtime", g.runtime, {configs});
    if (task == Task::Tile) src.read("config_runtime_normalizers", g.runtime_normalizer, {configs});
  } else {
    g.has_runtime = false;
    g.runtime.assign(configs, 0.0);
    if (task == Task::Tile) g.runtime_normalizer.assign(configs, 0.0);
  }

  if (src.has("node_splits")) {
    std::vector<int64_t> splits;
    std::vector<int64_t> split_shape = src.read_any("node_splits", splits);
    bool ok = split_shape.size() == 1 || (split_shape.size() == 2 && split_shape[0] == 1);
    if (!ok)
      input_error("{}: key 'node_splits' has shape {}, expected [1, S] or [S]", src.where(),
                  shape_text(split_shape));
    g.node_splits = std::move(splits);
  }
  validate_graph(g, src.where(), streamed);
  return g;
}

void check_runtimes(const std::vector<double>& values, const char* key, const std::string& where) {
  for (size_t c = 0; c < values.size(); ++c)
    if (!std::isfinite(values[c]) || values[c] < 0)
      input_error("{}: key '{}' value {} for config {} is not a finite non-negative runtime", where,
                  key, values[c], c);
}

}  // namespace

bool config_feat_streamed(const Graph& g) {
  return g.task == Task::Layout && g.config_feat.empty() && g.num_configs() > 0 &&
         g.num_config_nodes() > 0;
}

void validate_graph(const Graph& g, const std::string& where, bool allow_streamed) {
  const int64_t n = g.num_nodes;
  if (n <= 0) input_error("{}: the graph has 0 nodes (N = 0)", where);
  if (static_cast<int64_t>(g.node_feat.size()) != n * kNodeFeatureDim)
    input_error("{}: key 'node_feat' holds {} values, expected N x {} = {}", where,
                g.node_feat.size(), kNodeFeatureDim, n * kNodeFeatureDim);
  if (static_cast<int64_t>(g.node_opcode.size()) != n)
    input_error("{}: key 'node_opcode' has {} entries, expected N = {}", where,
                g.node_opcode.size(), n);
  for (int64_t i = 0; i < n; ++i)
    if (g.node_opcode[i] >= kNumOpcodes)
      input_error("{}: key 'node_opcode' value {} at node {} is outside 0..{}", where,
                  int(g.node_opcode[i]), i, kNumOpcodes - 1);
  if (g.edges.size() % 2 != 0) input_error("{}: key 'edge_index' is not [E, 2]", where);
  for (size_t i = 0; i < g.edges.size(); ++i)
    if (g.edges[i] < 0 || g.edges[i] >= n)
      input_error("{}: key 'edge_index' row {} has node id {} outside 0..{}", where, i / 2,
                  g.edges[i], n - 1);

  const int64_t c = g.num_configs();
  if (c == 0) input_error("{}: the graph has 0 configs (C = 0)", where);
  if (g.task == Task::Layout) {
    for (size_t i = 0; i < g.config_node_ids.size(); ++i)
      if (g.config_node_ids[i] < 0 || g.config_node_ids[i] >= n)
        input_error("{}: key 'node_config_ids' entry {} is node id {} outside 0..{}", where, i,
                    g.config_node_ids[i], n - 1);
    bool streamed = allow_streamed && config_feat_streamed(g);
    if (!streamed &&
        static_cast<int64_t>(g.config_feat.size()) != c * g.num_config_nodes() * kLayoutConfigDim)
      input_error("{}: key 'node_config_feat' holds {} values, expected C x M x {} = {}", where,
                  g.config_feat.size(), kLayoutConfigDim,
                  c * g.num_config_nodes() * kLayoutConfigDim);
    if (!g.runtime_normalizer.empty())
      input_error("{}: a layout graph has no 'config_runtime_normalizers'", where);
  } else {
    if (!g.config_node_ids.empty()) input_error("{}: a tile graph has no 'node_config_ids'", where);
    if (static_cast<int64_t>(g.config_feat.size()) != c * kTileConfigDim)
      input_error("{}: key 'config_feat' holds {} values, expected C x {} = {}", where,
                  g.config_feat.size(), kTileConfigDim, c * kTileConfigDim);
    if (static_cast<int64_t>(g.runtime_normalizer.size()) != c)
      input_error("{}: key 'config_runtime_normalizers' has {} entries, expected C = {}", where,
                  g.runtime_normalizer.size(), c);
    check_runtimes(g.runtime_normalizer, "config_runtime_normalizers", where);
  }
  check_runtimes(g.runtime, "config_runtime", where);
  for (size_t i = 0; i < g.node_splits.size(); ++i)
    if (g.node_splits[i] < 0 || g.node_splits[i] > n)
      input_error("{}: key 'node_splits' entry {} is {} outside 0..{}", where, i, g.node_splits[i],
                  n);
}

Graph read_graph(const std::filesystem::path& npz, Task task, const GraphReadOptions& options) {
  NpzReader reader(npz);
  ArraySource src(&reader, nullptr, npz.string());
  return read_arrays(src, task, npz.stem().string(), options);
}

Graph graph_from_npz(const NpzArrays& arrays, Task task, const std::string& id,
                     const std::string& where, const GraphReadOptions& options) {
  ArraySource src(nullptr, &arrays, where);
  return read_arrays(src, task, id, options);
}

ConfigFeatStream::ConfigFeatStream(const std::filesystem::path& npz, int64_t configs,
                                   int64_t config_nodes)
    : reader_(npz),
      stream_(reader_.stream("node_config_feat")),
      configs_(configs),
      config_nodes_(config_nodes) {
  const std::vector<int64_t> want = {configs, config_nodes, kLayoutConfigDim};
  if (stream_.shape() != want)
    input_error("{}: key 'node_config_feat' has shape {}, expected {}", npz.string(),
                shape_text(stream_.shape()), shape_text(want));
}

void ConfigFeatStream::read(int64_t count, float* dest) {
  GST_CHECK(count >= 0 && count <= configs_left(), "{}: {} configs asked, {} left", stream_.what(),
            count, configs_left());
  const int64_t values = count * config_nodes_ * kLayoutConfigDim;
  if (stream_.dtype() == DType::F32) {
    stream_.read(dest, values * sizeof(float));
  } else {
    raw_.resize(values * dtype_size(stream_.dtype()));
    stream_.read(raw_.data(), raw_.size());
    NpyArray view;  // converts through the same path as whole arrays
    view.dtype = stream_.dtype();
    view.shape = {values};
    view.bytes.swap(raw_);
    std::vector<float> converted = view.to_float(stream_.what());
    std::copy(converted.begin(), converted.end(), dest);
    view.bytes.swap(raw_);
  }
  done_ += count;
}

NpzArrays graph_to_npz(const Graph& g) {
  const int64_t n = g.num_nodes, c = g.num_configs(), m = g.num_config_nodes();
  NpzArrays a;
  a["node_feat"] = NpyArray::from(g.node_feat, {n, kNodeFeatureDim});
  a["node_opcode"] = NpyArray::from(g.node_opcode, {n});
  a["edge_index"] = NpyArray::from(g.edges, {g.num_edges(), 2});
  std::vector<int64_t> runtime(g.runtime.begin(), g.runtime.end());
  if (g.has_runtime) a["config_runtime"] = NpyArray::from(runtime, {c});
  if (g.task == Task::Layout) {
    a["node_config_ids"] = NpyArray::from(g.config_node_ids, {m});
    // A graph whose node_config_feat was left in its file (or is generated while written) has
    // none to give here.
    if (!config_feat_streamed(g))
      a["node_config_feat"] = NpyArray::from(g.config_feat, {c, m, kLayoutConfigDim});
  } else {
    a["config_feat"] = NpyArray::from(g.config_feat, {c, kTileConfigDim});
    std::vector<int64_t> norm(g.runtime_normalizer.begin(), g.runtime_normalizer.end());
    if (g.has_runtime) a["config_runtime_normalizers"] = NpyArray::from(norm, {c});
  }
  if (!g.node_splits.empty())
    a["node_splits"] =
        NpyArray::from(g.node_splits, {1, static_cast<int64_t>(g.node_splits.size())});
  return a;
}

void write_graph(const std::filesystem::path& npz, const Graph& graph, bool compress) {
  write_npz(npz, graph_to_npz(graph), compress);
}

}  // namespace gst
