// The hidden cost function behind synthetic runtimes. Only `gst synth` and tests use it; no model
// code may include this header (the model must learn the function from the data).
//
// Synthetic node features (every other column of the 140 is constant 0, except kFeatNoise..+4,
// which hold irrelevant random integers):
//   kFeatRank        tensor rank r (1..4)
//   kFeatDims..+3    logical dims d0..d(r-1), 0 beyond the rank
//   kFeatElements    element count E;  kFeatLogElements: log2(E)
//   kFeatElemBytes   2 or 4;           kFeatBytes: E x element bytes
//   kFeatDefaultLayout..+3  row-major minor-to-major order (r-1, ..., 0), -1 beyond the rank
//   kFeatWindow..+5  window sizes/strides of convolution-like ops, 0 otherwise
//   kFeatIsOutput    1 on the graph's output node
//
// Layout task. Configurable node i (rank >= 2) chooses a minor dim k_i in 0..r-1 per config; its
// 18 config features are the minor-to-major order [k_i, then the other dims from last to first]
// padded with -1 to 6 (output layout), the same 6 again (operand layout), then six -1. With
// w_i = E_i / 1024 (tensor size), the noiseless runtime of a config is
//   base      = sum over all nodes n of 0.2 * op_weight(opcode_n) * w_n     (config-independent)
//   local     = sum over configurable i of w_i * fit(i, k_i), where fit is log2 of the padding
//               blow-up when the minor dim is padded to a multiple of 128 and the next dim in
//               the order to a multiple of 8 (TPU tiles): the best k depends on node i's dims.
//   pairwise  = sum over edges u -> v with u and v both configurable of
//               kMismatchWeight * w_u * [k_u != k_v]  (a relayout copy of u's output).
// runtime = (base + local + pairwise) * exp(noise * N(0, 1)), rounded to int64 nanoseconds.
// Configs of "random" collections: each config draws a coherence q ~ U(0, 1); a configurable
// node takes its configurable producer's minor dim with chance q (when that dim exists for it),
// else a uniform one. So configs differ mostly in how many edges mismatch, which no per-node
// rule can see: a model must use the edges to rank well. "default" collections keep the
// row-major default (k = r - 1) except at a random 5-40% of nodes, which get a uniform k.
//
// Tile task. config_feat holds tile sizes (kTileMinor: t_m, kTileSecond: t_s, kTileOuter: t_o)
// and their log2s (t_m, t_s, t_o at 0, 1, 2; log2 at 3, 4, 5; t_m * t_s at 6; rest 0). For a node
// with dims (..., d_s, d_m) and outer product P, its padded volume is
// ceil(d_m/t_m) t_m * ceil(d_s/t_s) t_s * ceil(P/t_o) t_o, and
//   compute   = sum over nodes of op_weight * padded volume / 1024 (x2 for nodes without inputs:
//               they are loaded from memory)
//   overhead  = 40 * number of tiles of the output node
//   spill     = a footprint (sum over nodes of t_m t_s t_o * element bytes) F beyond 1 MiB
//               makes compute 1 + log2(F / 1 MiB) times slower.
// runtime = (compute * spill_factor + overhead) * noise; config_runtime_normalizers hold the
// runtime of the default tile (128, 8, 1) measured with fresh noise for each config.
#pragma once

#include <vector>

#include "data/graph.h"

namespace gst::synth {

constexpr int kFeatRank = 0;
constexpr int kFeatDims = 1;
constexpr int kFeatElements = 5;
constexpr int kFeatLogElements = 6;
constexpr int kFeatElemBytes = 7;
constexpr int kFeatBytes = 8;
constexpr int kFeatDefaultLayout = 10;
constexpr int kFeatWindow = 14;
constexpr int kFeatIsOutput = 20;
constexpr int kFeatNoise = 30;

constexpr int kTileMinor = 0;
constexpr int kTileSecond = 1;
constexpr int kTileOuter = 2;

constexpr double kMismatchWeight = 10.0;

// The HLO opcodes the generator uses, with their cost weights.
enum class OpKind { Source, Elementwise, LayoutSensitive, Other };
struct SynthOpcode {
  int code;  // 0..119
  const char* name;
  OpKind kind;
  double weight;
};
const std::vector<SynthOpcode>& opcode_table();
// The weight of a code in opcode_table(); 1 for codes the generator never uses.
double op_weight(int opcode);

// The noiseless layout cost split into its parts, per config: total = base + local + pairwise.
struct LayoutCostTerms {
  double base = 0;
  std::vector<double> local;     // [C]
  std::vector<double> pairwise;  // [C]
};
LayoutCostTerms layout_cost_terms(const Graph& graph);

// The noiseless cost per config (layout or tile) of a synthetic graph. tile_config: [24].
std::vector<double> noiseless_cost(const Graph& graph);
double tile_cost(const Graph& graph, const float* tile_config);

}  // namespace gst::synth
