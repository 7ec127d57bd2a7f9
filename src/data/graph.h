// TpuGraphs records: one layout or tile graph as read from its .npz, after validation.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace gst {

constexpr int kNodeFeatureDim = 140;
constexpr int kLayoutConfigDim = 18;  // per configurable node, per config
constexpr int kTileConfigDim = 24;    // per kernel, per config
constexpr int kNumOpcodes = 120;

enum class Task { Layout, Tile };
constexpr auto enum_names(Task) {
  return std::array{std::pair{Task::Layout, "layout"}, std::pair{Task::Tile, "tile"}};
}

// A graph of either task. Layout: config_feat is node_config_feat [C, M, 18] over the M
// configurable nodes config_node_ids. Tile: config_feat is [C, 24] for the whole kernel and
// runtime_normalizer holds each config's default-config runtime.
struct Graph {
  std::string id;  // file name without .npz
  Task task = Task::Layout;
  int64_t num_nodes = 0;
  std::vector<float> node_feat;            // [N, 140]
  std::vector<uint8_t> node_opcode;        // [N], 0..119
  std::vector<int64_t> edges;              // [E, 2]: (source, target) rows
  std::vector<int64_t> config_node_ids;    // layout: [M] node ids; tile: empty
  std::vector<float> config_feat;          // layout: [C, M, 18]; tile: [C, 24]
  std::vector<double> runtime;             // [C]
  std::vector<double> runtime_normalizer;  // tile: [C]; layout: empty
  std::vector<int64_t> node_splits;        // optional sub-computation boundaries
  bool has_runtime = true;                 // false: a test file without runtimes (all zero)

  int64_t num_edges() const { return static_cast<int64_t>(edges.size() / 2); }
  int64_t num_configs() const { return static_cast<int64_t>(runtime.size()); }
  int64_t num_config_nodes() const { return static_cast<int64_t>(config_node_ids.size()); }
  int config_dim() const { return task == Task::Layout ? kLayoutConfigDim : kTileConfigDim; }
};

}  // namespace gst
