// Encodings of integer-coded and size columns (dimension indices, layouts, shapes, tile sizes): a
// one-hot slot per value, a config's values against the node's own and its neighbours' values,
// the dims a config value picks, tile padding, and size weights for pooling.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "store/manifest.h"

namespace gst {

constexpr int kLayoutBlock = 6;  // dims per minor-to-major order in a layout config row (3 of them)

// Columns whose train values are whole numbers in [kLowest, kHighest], not constant. Such a value
// is a name, not a quantity: layout 2 is not "twice" layout 1, and -1 means "absent".
class OneHotColumns {
 public:
  static constexpr float kLowest = -1, kHighest = 31;

  OneHotColumns() = default;
  // Picks the columns from train statistics.
  explicit OneHotColumns(const ColumnStats& stats);

  // x: [..., C] raw values -> [..., width()]: one slot per value of the column's train range and
  // one more for any other value (unseen, or not a whole number).
  torch::Tensor encode(const torch::Tensor& x) const;
  int64_t width() const { return width_; }
  const std::vector<int64_t>& columns() const { return columns_; }

 private:
  std::vector<int64_t> columns_;
  torch::Tensor index_, low_, span_, offset_;  // [columns]: column, lowest value, values, 1st slot
  int64_t width_ = 0;
};

// For a layout config, whether each of its value slots equals each of a node's own integer-coded
// columns of the same range (its layout, rank, ...): "does this config keep what the node has".
// A config value of -1 (absent) equals nothing.
class ConfigMatch {
 public:
  ConfigMatch() = default;
  // slots: the config columns compared (non-constant ones); node columns are picked from `node`:
  // whole numbers in [-1, highest config value] spanning more than a flag's two values.
  ConfigMatch(const ColumnStats& node, const ColumnStats& config);

  // config: [K, M, 18], node_feat: [M, 140] of the same M nodes -> [K, M, width()] of 0/1. On
  // the CPU one loop; elsewhere encode_with_tensor_ops, which tests compare it with.
  torch::Tensor encode(const torch::Tensor& config, const torch::Tensor& node_feat) const;
  torch::Tensor encode_with_tensor_ops(const torch::Tensor& config,
                                       const torch::Tensor& node_feat) const;
  int64_t width() const { return static_cast<int64_t>(slots_.size() * node_columns_.size()); }

 private:
  std::vector<int64_t> slots_, node_columns_;
  torch::Tensor slot_index_, node_index_;
};

// For a layout config, how many of a configurable node's configurable producers and consumers
// hold a different layout: a relayout copy is paid on such an edge, and comparing two nodes'
// config values is what per-node layers cannot draw. A layout config is three minor-to-major
// orders of 6 dims (TpuGraphs: the output's and two operands'); for every pair (block a of the
// edge's source, block b of its target) of non-constant blocks, an edge counts when the blocks
// differ anywhere, and again when their minor-most dims differ. Per node: log(1 + count) of these
// over its out-edges, then over its in-edges.
class NeighbourMatch {
 public:
  NeighbourMatch() = default;
  explicit NeighbourMatch(const ColumnStats& config);

  // config: [K, M, 18], edges: [2, P] positions in M -> [K, M, width()]. On the CPU one loop;
  // elsewhere encode_with_tensor_ops, which tests compare it with.
  torch::Tensor encode(const torch::Tensor& config, const torch::Tensor& edges) const;
  torch::Tensor encode_with_tensor_ops(const torch::Tensor& config,
                                       const torch::Tensor& edges) const;
  int64_t width() const { return 4 * static_cast<int64_t>(blocks_.size() * blocks_.size()); }

 private:
  std::vector<int64_t> blocks_;
  torch::Tensor slot_index_;  // [blocks x 6] config columns of the blocks
};

// For a layout config, whether each of its layout blocks is a layout that a node holds in its own
// features: at the node itself ("keeps my layout"), at its producers ("takes the operand as it is
// written") and at its consumers. A layout a node holds is a run of consecutive whole-number
// columns in [-1, highest config value] (its minor-to-major dim indices), found from train
// statistics. A producer that is not configurable writes the layout it holds, and comparing a
// config with a neighbour's features is what per-node layers cannot draw. Per (block, run) two
// flags: the block equals the run over their common length; their minor-most dims are equal. A
// block whose first value is absent (-1) equals nothing. Neighbours: log(1 + count) over the
// node's in-edges, then over its out-edges.
class LayoutAgreement {
 public:
  LayoutAgreement() = default;
  LayoutAgreement(const ColumnStats& node, const ColumnStats& config);

  // config: [K, M, 18], node_feat: [N, 140] of the batch, config_nodes: [M] ids in N, edges:
  // [2, E] ids in N -> [K, M, width()]. On the CPU one loop over configs and nodes; elsewhere
  // encode_with_tensor_ops, which tests compare it with.
  torch::Tensor encode(const torch::Tensor& config, const torch::Tensor& node_feat,
                       const torch::Tensor& config_nodes, const torch::Tensor& edges) const;
  torch::Tensor encode_with_tensor_ops(const torch::Tensor& config, const torch::Tensor& node_feat,
                                       const torch::Tensor& config_nodes,
                                       const torch::Tensor& edges) const;
  int64_t width() const { return 6 * static_cast<int64_t>(blocks_.size() * runs_.size()); }

 private:
  // [K, P, 2 blocks runs] flags of config rows `rows` (positions in M) against nodes `nodes`.
  torch::Tensor flags(const torch::Tensor& blocks, const torch::Tensor& node_feat,
                      const torch::Tensor& rows, const torch::Tensor& nodes) const;
  // Adds the 2 blocks runs flags of one config row against one node's features to `out`.
  void add_flags(const float* config_row, const float* feat, float* out) const;

  std::vector<int64_t> blocks_;
  std::vector<std::pair<int64_t, int64_t>> runs_;  // first column, length (<= kLayoutBlock)
  torch::Tensor slot_index_;                       // [blocks x 6] config columns of the blocks
};

// For a layout config, whether each operand layout a configurable node asks for is the layout its
// producer writes: where they differ, the producer's tensor is copied into the asked layout
// (TpuGraphs: blocks 1 and 2 of a config are the layouts of operands 0 and 1). A producer writes
// its config's layout where that is set, else a layout it holds in its features (LayoutAgreement's
// runs); which block and which run is learned. Per edge u -> v into a configurable v, per config:
// for each non-constant block b of v, whether it is set, and per (block a of u's config, run r of
// u's features) whether b equals "a where set, else r" and whether their minor-most dims are
// equal; all of it once per operand position (v's first, second, later in-edge in the segment's
// edge order, which keeps the source's), zeros in the other two.
class OperandCopy {
 public:
  static constexpr int64_t kPositions = 3;

  OperandCopy() = default;
  OperandCopy(const ColumnStats& node, const ColumnStats& config);

  struct Edges {
    torch::Tensor rows;   // [P] the edges (columns of `edges`) that end at a configurable node
    torch::Tensor flags;  // [K, P, width()]
  };
  // config: [K, M, 18], node_feat: [N, 140] of the batch, config_nodes: [M] ids in N, edges:
  // [2, E] ids in N, operand: [E] each edge's rank among its target's in-edges. On the CPU one
  // loop over configs and edges; elsewhere encode_with_tensor_ops, which tests compare it with.
  Edges encode(const torch::Tensor& config, const torch::Tensor& node_feat,
               const torch::Tensor& config_nodes, const torch::Tensor& edges,
               const torch::Tensor& operand) const;
  Edges encode_with_tensor_ops(const torch::Tensor& config, const torch::Tensor& node_feat,
                               const torch::Tensor& config_nodes, const torch::Tensor& edges,
                               const torch::Tensor& operand) const;
  int64_t width() const;

 private:
  // The flags of one position (width() / kPositions of them), flag f written at f kPositions.
  int64_t position_flags() const { return width() / kPositions; }
  // The flags of one edge: the consumer's config row `asked`, the producer's `written` (null where
  // it is not configurable) and features `feat`, into `out` at operand position `position`.
  void edge_flags(const float* asked, const float* written, const float* feat, int64_t position,
                  float* out) const;

  std::vector<int64_t> blocks_;
  std::vector<std::pair<int64_t, int64_t>> runs_;  // first column, length (<= kLayoutBlock)
  torch::Tensor slot_index_;                       // [blocks x 6] config columns of the blocks
};

// For a layout config, the sizes of the dims it puts minor-most and second-minor, and their
// padding to the (8, 128) tiles TPU vector registers hold: a minor dim of 130 pays for 256 lanes.
// A config value k is a dim index, which picks the k-th column of a run of consecutive node size
// columns (the shape dims); a per-node layer fed k and the dims cannot draw such a lookup. Per
// minor-most and second-minor slot of each non-constant layout block and per run of at least two
// size columns: log(1 + x) / 8 of the picked dim x, log of its padding blow-up to a multiple of
// 128 and to a multiple of 8; all 0 where k is absent or past the run. Then the same once per
// held layout run (LayoutAgreement's) for the value the node keeps where the config leaves the
// slot absent (the run's minor-most or second-minor entry), 0 where the config sets it: a node a
// config leaves alone still pays the padding of its own layout, and which run holds that layout
// is learned.
class DimFit {
 public:
  DimFit() = default;
  // kept_layouts: also the fits of the held layouts where a slot is absent.
  DimFit(const ColumnStats& node, const ColumnStats& config, bool kept_layouts);

  // config: [K, M, 18], node_feat: [M, 140] of the same M nodes -> [K, M, width()]. On the CPU
  // one loop; elsewhere encode_with_tensor_ops, which tests compare it with.
  torch::Tensor encode(const torch::Tensor& config, const torch::Tensor& node_feat) const;
  torch::Tensor encode_with_tensor_ops(const torch::Tensor& config,
                                       const torch::Tensor& node_feat) const;
  int64_t width() const {
    return static_cast<int64_t>(3 * slots_.size() * runs_.size() * (1 + held_.size()));
  }

 private:
  std::vector<int64_t> slots_;
  std::vector<std::pair<int64_t, int64_t>> runs_;  // size runs: first column, length
  std::vector<std::pair<int64_t, int64_t>> held_;  // held layout runs (LayoutAgreement's)
  torch::Tensor slot_index_;
  torch::Tensor kept_index_;  // [held runs, slots] node column a slot keeps where absent, or -1
};

// For tile configs at the nodes, how well each tile size divides each of a node's sizes: the log of
// the padding blow-up ceil(x / t) t / x for every pair of a node size column x and a config size
// column t, 0 where either is absent (<= 0). Size columns hold whole numbers >= 0 reaching past
// OneHotColumns' range (shape dims, element counts, tile sizes): a compiler pays for padding, and
// ceil-division is what ReLU layers fed logs of x and t cannot draw.
class TileFit {
 public:
  TileFit() = default;
  TileFit(const ColumnStats& node, const ColumnStats& config);

  // config: [K, M, 24], node_feat: [M, 140] of the same M nodes -> [K, M, width()].
  torch::Tensor encode(const torch::Tensor& config, const torch::Tensor& node_feat) const;
  int64_t width() const { return static_cast<int64_t>(sizes_.size() * node_columns_.size()); }

 private:
  std::vector<int64_t> sizes_, node_columns_;
  torch::Tensor size_index_, node_index_;
};

// For tile configs at the nodes, what a tile costs at each node as a TPU lays it out: per pair of
// runs of size columns (a config's per-dim tile sizes, a node's shape dims, position p against
// position p), the log of the tile's extent at the node (min(t, x) over the dims, /8), the log of
// its number of tiles there (ceil(x / t), /8), and per held layout run (whole numbers in -1..5:
// TpuGraphs' minor-to-major order) the log blow-up of that extent padded to 128 on the dim the run
// puts minor-most and to 8 on the second-minor. A footprint against on-chip memory, per-tile
// overhead and vector-tile padding are sums or products of these over dims and nodes, which
// per-node layers fed log sizes, or TileFit's padding of node sizes, do not draw.
class TileAlign {
 public:
  TileAlign() = default;
  TileAlign(const ColumnStats& node, const ColumnStats& config);

  // config: [K, M, 24], node_feat: [M, 140] of the same M nodes -> [K, M, width()].
  torch::Tensor encode(const torch::Tensor& config, const torch::Tensor& node_feat) const;
  int64_t width() const {
    return static_cast<int64_t>(tiles_.size() * dims_.size() * (2 + held_.size()));
  }

 private:
  std::vector<std::pair<int64_t, int64_t>> tiles_, dims_, held_;  // runs: first column, length
};

// Node weights for sums over a graph: each size column's values (negatives as 0). Costs add up
// over nodes in proportion to tensor sizes, and which column holds the size (element count, bytes,
// a dim) and how much it matters differs between data sets: the model weighs every such column and
// learns how to mix them, where a weight learned from log inputs moves too slowly to reach them.
class SizeWeights {
 public:
  SizeWeights() = default;
  explicit SizeWeights(const ColumnStats& node);

  // node_feat: [N, 140] -> [N, width()].
  torch::Tensor encode(const torch::Tensor& node_feat) const;
  int64_t width() const { return static_cast<int64_t>(columns_.size()); }

 private:
  std::vector<int64_t> columns_;
  torch::Tensor index_;
};

}  // namespace gst
