// The hidden cost functions behind synthetic runtimes, in families (`gst synth --cost`). Only
// `gst synth` and tests use this header; no model code may include it (the model must learn the
// function from the data).
//
// Synthetic node features (every other column of the 140 is constant 0, except the noise
// columns from kFeatNoise on, which hold irrelevant values):
//   kFeatRank        tensor rank r (1..4)
//   kFeatDims..+3    logical dims d0..d(r-1), 0 beyond the rank
//   kFeatElements    element count E;  kFeatLogElements: log2(E)
//   kFeatElemBytes   2 or 4;           kFeatBytes: E x element bytes
//   kFeatLayout..+3  the tensor's own minor-to-major order, -1 beyond the rank: row-major
//                    (r-1, ..., 0), or in the `agree` family a random order at half the nodes
//   kFeatWindow..+5  window sizes/strides of convolution-like ops, 0 otherwise
//   kFeatIsOutput    1 on the graph's output node
//
// Layout task. Configurable node i (rank >= 2) chooses a minor dim k_i in 0..r-1 per config; its
// 18 config features are the minor-to-major order [k_i, then the other dims from last to first]
// padded with -1 to 6 (output layout), the same 6 again (operand layout), then six -1; in the
// `agree` family a node may also be left unset in a config (all 18 features -1: it keeps its own
// layout). With w_i the size weight of node i, the noiseless runtime of a config is
//   base      = sum over all nodes n of 0.05 * op_weight(opcode_n) * w_n   (config-independent)
//   local     = sum over configurable i of w_i * local_i(k_i), by family:
//                 padding: log2 of the padding blow-up when the minor dim is padded to a multiple
//                   of 128 and the next dim in the order to a multiple of 8 (TPU tiles);
//                 agree: [k_i != own minor dim] + 0.5 [k_i != preferred dim], where the own minor
//                   dim is kFeatLayout and the preferred dim is the one with the best padding fit
//                   (ties: the later dim). Only equality with the node's own features matters.
//   pairwise  = (relayout) sum over edges u -> v with u and v both configurable of
//               kMismatchWeight * w_u * [k_u != k_v]  (a relayout copy of u's output); the
//               weight is 1 instead of kMismatchWeight next to the agree term.
// runtime = (base + local + pairwise) * exp(noise * N(0, 1)), rounded to int64 nanoseconds.
// Size weights: w = E / 1024, or with `heavy` w = (E / 2^16)^1.5, so a few big tensors dominate.
// Configs: with `coherent`, each config of a "random" collection draws a coherence q ~ U(0, 1)
// and a configurable node takes its configurable producer's minor dim with chance q (when that
// dim exists for it), else a uniform one: configs differ mostly in how many edges mismatch.
// Without it every node draws its own choice independently (the agree family leaves 10% unset).
// "default" collections keep the node's own layout except at a random 5-40% of nodes per config.
//
// Tile task. config_feat holds tile sizes (kTileMinor: t_m, kTileSecond: t_s, kTileOuter: t_o)
// and their log2s (t_m, t_s, t_o at 0, 1, 2; log2 at 3, 4, 5; t_m * t_s at 6; rest 0). For a node
// with dims (..., d_s, d_m) and outer product P, its padded volume is
// ceil(d_m/t_m) t_m * ceil(d_s/t_s) t_s * ceil(P/t_o) t_o, and
//   compute   = sum over nodes of op_weight * padded volume / 1024 (x2 for nodes without inputs:
//               they are loaded from memory)
//   overhead  = 40 * number of tiles of the output node
//   spill     = a footprint (sum over nodes of t_m t_s t_o * element bytes) F beyond the on-chip
//               memory V makes compute 1 + log2(F / V) times slower: V = 1 MiB, or with `spill`
//               V = 256 KiB and 1 + 2 log2(F / V).
// runtime = (compute * spill_factor + overhead) * noise; config_runtime_normalizers hold the
// runtime of the default tile (128, 8, 1) measured with fresh noise for each config. Every node
// of a kernel has the kernel's shape (broadcast operands drop leading dims), or with `oneshape`
// only the output node carries shape features (the others keep rank, opcode and element bytes):
// the cost is the same, the model must find the shape on one node.
//
// Noise columns: 5 integers 0..9 from kFeatNoise, or with `noisy` 40 columns of mixed kinds
// (Gaussian, integers, heavy-tailed, small categories in -1..5 like layout indices, flags).
//
// Families (`--cost a,b,...`; `classic` is the default and today's data):
//   layout: classic = padding,coherent,relayout; padding, agree, coherent, heavy, relayout,
//           noisy (a family without a local term gets agree);
//   tile:   classic; spill, oneshape, noisy.
// Each written collection reports its noise ceiling (mean Kendall tau of the noiseless cost
// against the runtimes) and the tau of the oracle, a hand-written rule that knows the formula but
// not all it reads (layout: base + local, no edges; tile: every node at the output node's shape),
// so every learned figure has its two upper references.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "data/graph.h"

namespace gst::synth {

constexpr int kFeatRank = 0;
constexpr int kFeatDims = 1;
constexpr int kFeatElements = 5;
constexpr int kFeatLogElements = 6;
constexpr int kFeatElemBytes = 7;
constexpr int kFeatBytes = 8;
constexpr int kFeatLayout = 10;
constexpr int kFeatWindow = 14;
constexpr int kFeatIsOutput = 20;
constexpr int kFeatNoise = 30;

constexpr int kTileMinor = 0;
constexpr int kTileSecond = 1;
constexpr int kTileOuter = 2;

constexpr double kMismatchWeight = 10.0;
constexpr int kNoisyColumns = 40;  // noise columns with `noisy` (else 5)

// Which properties the hidden cost has (see the top of this file).
struct CostFamily {
  Task task = Task::Layout;
  bool padding = true;    // layout local term: padding fit
  bool agree = false;     // layout local term: equality with the node's own layout / preferred dim
  bool coherent = true;   // layout configs follow producers with a per-config coherence
  bool heavy = false;     // layout size weights (E / 2^16)^1.5
  bool relayout = true;   // layout copies on edges between configurable nodes
  bool spill = false;     // tile: small on-chip memory, steep spill
  bool oneshape = false;  // tile: only the output node carries shape features
  bool noisy = false;     // 40 noisy irrelevant node columns

  std::string str() const;  // the canonical --cost spelling, e.g. "agree,heavy"
};
// Parses a --cost value for `task`; an unknown name or one of the other task is an InputError
// naming --cost and listing the valid names.
CostFamily parse_cost_family(const std::string& spec, Task task);

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
LayoutCostTerms layout_cost_terms(const Graph& graph, const CostFamily& family = {});

// The same terms for configs given a block at a time, for a graph whose node_config_feat is not
// held (gst synth writing a graph of several GB): built from everything but config_feat.
class LayoutCostModel {
 public:
  LayoutCostModel(const Graph& graph, const CostFamily& family);
  double base() const { return base_; }
  // local[k] and pairwise[k] of the `count` configs feat [count, M, 18], the first being config
  // `first` of the graph (for messages).
  void terms(const float* feat, int64_t first, int64_t count, double* local, double* pairwise);

 private:
  std::string id_;
  double base_ = 0, mismatch_ = 0;
  bool agree_ = false;
  std::vector<int64_t> config_node_ids_;
  std::vector<double> weight_;                // [N] size weights
  std::vector<std::array<double, 4>> local_;  // [M][k]
  std::vector<int> rank_, own_, minor_;       // [M]
  std::vector<std::array<int64_t, 2>> pairs_;
};

// The noiseless tile cost of one config split into its parts: compute * spill + overhead.
struct TileCostTerms {
  double compute = 0, spill = 1, overhead = 0;
};
TileCostTerms tile_cost_terms(const Graph& graph, const float* tile_config,
                              const CostFamily& family = {});

// The noiseless cost per config (layout or tile) of a synthetic graph. tile_config: [24].
std::vector<double> noiseless_cost(const Graph& graph, const CostFamily& family = {});
double tile_cost(const Graph& graph, const float* tile_config, const CostFamily& family = {});
// The oracle's scores per config (see above).
std::vector<double> oracle_cost(const Graph& graph, const CostFamily& family = {});

}  // namespace gst::synth
