// Hyper-parameters of the cost model: the YAML section `model` of a run config.
#pragma once

#include <array>
#include <utility>

#include "common/config.h"

namespace gst {

enum class Norm { Layer, None };  // LayerNorm in every layer and at the head input, or none
constexpr auto enum_names(Norm) {
  return std::array{std::pair{Norm::Layer, "layer"}, std::pair{Norm::None, "none"}};
}

enum class Combine { Sum, Mean };  // how segment embeddings make the graph embedding
constexpr auto enum_names(Combine) {
  return std::array{std::pair{Combine::Sum, "sum"}, std::pair{Combine::Mean, "mean"}};
}

// Where tile configs join the model: at the head only (one backbone pass per kernel), or also at
// every node (one backbone pass per config, as the TpuGraphs baseline's EarlyJoinSAGE; with
// model.tile_fit it ranks far better, src/train/README.md).
enum class TileJoin { Late, Early };
constexpr auto enum_names(TileJoin) {
  return std::array{std::pair{TileJoin::Late, "late"}, std::pair{TileJoin::Early, "early"}};
}

// How column pooling turns a node's config effect x = u . D into the cost it weighs by size: x
// itself, or e^x - 1 where x > 0 (x below): costs such as tile padding multiply a tensor's size by
// a factor that spans orders of magnitude, which a linear map of layer-normed states cannot reach.
enum class NodeCost { Linear, Exp };
constexpr auto enum_names(NodeCost) {
  return std::array{std::pair{NodeCost::Linear, "linear"}, std::pair{NodeCost::Exp, "exp"}};
}

struct ModelConfig {
  int hidden = 256;      // message-passing width
  int projection = 128;  // width of the per-node input projection
  int layers = 3;        // SAGE layers
  double dropout = 0.1;  // after the input projection, every layer and the head's first layer
  Norm norm = Norm::Layer;
  Combine combine = Combine::Sum;
  int head_hidden = 256;        // MLP head width
  bool message_passing = true;  // false = structure-blind baseline (no neighbour terms)
  bool categorical = true;      // integer-coded node and config columns as one-hot slots
  bool config_match = true;     // layout: config values equal to the node's own coded columns
  bool neighbour_match = true;  // layout: configurable neighbours holding a different layout
  bool dim_fit = true;          // layout: size and tile padding of the dims a config makes minor
  // dim fit: also of the layout a node holds, where its config leaves a slot absent (-1)
  bool kept_layout_fit = true;
  // layout: config layouts equal to those a node and its neighbours hold
  bool layout_agreement = true;
  bool tile_fit = true;        // tile at the nodes: padding blow-up of node sizes by tile sizes
  bool tile_align = true;      // tile at the nodes: its extent, count and vector-tile padding
  bool size_pooling = true;    // a third readout: node states summed with learned size weights
  bool column_pooling = true;  // with it, a per-node cost summed with each size column as weight
  // column pooling: a node's cost linear or exponential in its config effect
  NodeCost node_cost = NodeCost::Exp;
  // column pooling: separate node costs, each summed with every size column (a runtime adds terms
  // of different forms: a padding factor times a size plus a flat copy of it)
  int cost_channels = 8;
  // column pooling: also weigh node costs by their producers' size columns (operand copies)
  bool operand_sizes = false;
  // column pooling: node costs also read the node's config inputs through a linear map, not only
  // through the message-passing layers (a layout's cost is first a function of its own shape)
  bool direct_costs = true;
  // column pooling, layout with message passing: each edge into a configurable node costs a learned
  // function of whether the operand layout the node asks for is the one its producer writes,
  // weighed by the producer's size columns (a relayout copies the producer's tensor)
  bool operand_copies = true;
  // The direct and operand copy cost maps' outputs times this. They start at 0 and must reach
  // costs of log-factor size (a minor dim of 2 padded to 128: log 64) from O(1) inputs, while Adam
  // moves a weight by about lr per step: unscaled, 300 steps at lr 2e-3 end with them at that
  // bound. Larger scales move the exponential costs too far per step (10 made a short run diverge)
  double cost_map_scale = 4.0;
  TileJoin tile_join = TileJoin::Early;

  void visit(ConfigSection& c) {
    c.field("hidden", hidden, 1, 8192);
    c.field("projection", projection, 1, 8192);
    c.field("layers", layers, 0, 64);
    c.field("dropout", dropout, 0.0, 0.99);
    c.choice("norm", norm);
    c.choice("combine", combine);
    c.field("head_hidden", head_hidden, 1, 8192);
    c.field("message_passing", message_passing);
    c.field("categorical", categorical);
    c.field("config_match", config_match);
    c.field("neighbour_match", neighbour_match);
    c.field("dim_fit", dim_fit);
    c.field("kept_layout_fit", kept_layout_fit);
    c.field("layout_agreement", layout_agreement);
    c.field("tile_fit", tile_fit);
    c.field("tile_align", tile_align);
    c.field("size_pooling", size_pooling);
    c.field("column_pooling", column_pooling);
    c.choice("node_cost", node_cost);
    c.field("cost_channels", cost_channels, 1, 64);
    c.field("operand_sizes", operand_sizes);
    c.field("direct_costs", direct_costs);
    c.field("operand_copies", operand_copies);
    c.field("cost_map_scale", cost_map_scale, 1e-3, 1e3);
    c.choice("tile_join", tile_join);
  }
};

}  // namespace gst
