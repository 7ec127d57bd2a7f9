#include "data/synth_cost.h"

#include <array>
#include <cmath>

#include "common/errors.h"

namespace gst::synth {
namespace {

struct Shape {
  int rank = 0;
  std::array<double, 4> dims{};
  double elements = 1;
};

Shape node_shape(const Graph& g, int64_t node) {
  const float* f = &g.node_feat[node * kNodeFeatureDim];
  Shape s;
  s.rank = static_cast<int>(f[kFeatRank]);
  GST_CHECK(s.rank >= 1 && s.rank <= 4, "{}: node {} has rank {} (not a synthetic graph?)", g.id,
            node, s.rank);
  for (int d = 0; d < s.rank; ++d) s.dims[d] = std::max(1.0f, f[kFeatDims + d]);
  s.elements = f[kFeatElements];
  return s;
}

double round_up(double x, double multiple) { return std::ceil(x / multiple) * multiple; }

// log2 of the padding blow-up of `s` laid out with minor dim k (next: the last other dim).
double layout_fit(const Shape& s, int k) {
  int second = -1;
  for (int d = s.rank - 1; d >= 0 && second < 0; --d)
    if (d != k) second = d;
  double padded = round_up(s.dims[k], 128);
  double rest = 1;
  for (int d = 0; d < s.rank; ++d)
    if (d != k) rest *= d == second ? round_up(s.dims[d], 8) : s.dims[d];
  double real = 1;
  for (int d = 0; d < s.rank; ++d) real *= s.dims[d];
  return std::log2(padded * rest / real);
}

}  // namespace

const std::vector<SynthOpcode>& opcode_table() {
  static const std::vector<SynthOpcode> table = {
      {0, "parameter", OpKind::Source, 0.5},
      {1, "constant", OpKind::Source, 0.3},
      {2, "add", OpKind::Elementwise, 1.0},
      {3, "multiply", OpKind::Elementwise, 1.0},
      {4, "subtract", OpKind::Elementwise, 1.0},
      {5, "divide", OpKind::Elementwise, 2.0},
      {6, "maximum", OpKind::Elementwise, 1.0},
      {7, "exponential", OpKind::Elementwise, 3.0},
      {8, "tanh", OpKind::Elementwise, 3.0},
      {9, "select", OpKind::Elementwise, 1.5},
      {10, "compare", OpKind::Elementwise, 1.0},
      {11, "convert", OpKind::Elementwise, 0.8},
      {20, "dot", OpKind::LayoutSensitive, 8.0},
      {21, "convolution", OpKind::LayoutSensitive, 12.0},
      {22, "transpose", OpKind::LayoutSensitive, 2.0},
      {23, "reshape", OpKind::LayoutSensitive, 1.0},
      {24, "reduce", OpKind::LayoutSensitive, 3.0},
      {25, "copy", OpKind::LayoutSensitive, 1.5},
      {26, "concatenate", OpKind::LayoutSensitive, 2.0},
      {27, "pad", OpKind::LayoutSensitive, 1.5},
      {40, "broadcast", OpKind::Other, 0.8},
      {41, "slice", OpKind::Other, 0.7},
      {42, "get-tuple-element", OpKind::Other, 0.1},
      {43, "bitcast", OpKind::Other, 0.1},
      {44, "iota", OpKind::Other, 0.5},
      {45, "dynamic-slice", OpKind::Other, 1.2},
      {60, "fusion", OpKind::Other, 4.0},
  };
  return table;
}

double op_weight(int opcode) {
  static const std::array<double, kNumOpcodes> weights = [] {
    std::array<double, kNumOpcodes> w;
    w.fill(1.0);
    for (const auto& op : opcode_table()) w[op.code] = op.weight;
    return w;
  }();
  return opcode >= 0 && opcode < kNumOpcodes ? weights[opcode] : 1.0;
}

LayoutCostTerms layout_cost_terms(const Graph& g) {
  GST_CHECK(g.task == Task::Layout, "{}: layout_cost_terms needs a layout graph", g.id);
  const int64_t n = g.num_nodes, m = g.num_config_nodes(), c = g.num_configs();
  LayoutCostTerms terms;
  std::vector<double> weight(n);
  for (int64_t i = 0; i < n; ++i) {
    weight[i] = g.node_feat[i * kNodeFeatureDim + kFeatElements] / 1024.0;
    terms.base += 0.05 * op_weight(g.node_opcode[i]) * weight[i];
  }
  // slot[node] = its index among the configurable nodes, or -1.
  std::vector<int64_t> slot(n, -1);
  for (int64_t j = 0; j < m; ++j) slot[g.config_node_ids[j]] = j;
  std::vector<Shape> shapes(m);
  for (int64_t j = 0; j < m; ++j) shapes[j] = node_shape(g, g.config_node_ids[j]);
  // fit[j][k] for each configurable node and minor dim.
  std::vector<std::array<double, 4>> fit(m);
  for (int64_t j = 0; j < m; ++j)
    for (int k = 0; k < shapes[j].rank; ++k) fit[j][k] = layout_fit(shapes[j], k);
  std::vector<std::array<int64_t, 2>> pairs;  // (slot u, slot v) of edges between configurables
  for (int64_t e = 0; e < g.num_edges(); ++e) {
    int64_t u = slot[g.edges[2 * e]], v = slot[g.edges[2 * e + 1]];
    if (u >= 0 && v >= 0) pairs.push_back({u, v});
  }
  terms.local.assign(c, 0.0);
  terms.pairwise.assign(c, 0.0);
  std::vector<int> minor(m);
  for (int64_t cfg = 0; cfg < c; ++cfg) {
    const float* feat = &g.config_feat[cfg * m * kLayoutConfigDim];
    double local = 0;
    for (int64_t j = 0; j < m; ++j) {
      int k = static_cast<int>(feat[j * kLayoutConfigDim]);
      GST_CHECK(k >= 0 && k < shapes[j].rank, "{}: config {} node {} has minor dim {}", g.id, cfg,
                g.config_node_ids[j], k);
      minor[j] = k;
      local += weight[g.config_node_ids[j]] * fit[j][k];
    }
    double pairwise = 0;
    for (const auto& [u, v] : pairs)
      if (minor[u] != minor[v]) pairwise += kMismatchWeight * weight[g.config_node_ids[u]];
    terms.local[cfg] = local;
    terms.pairwise[cfg] = pairwise;
  }
  return terms;
}

double tile_cost(const Graph& g, const float* config) {
  const double tm = config[kTileMinor], ts = config[kTileSecond], to = config[kTileOuter];
  std::vector<bool> has_input(g.num_nodes, false);
  for (int64_t e = 0; e < g.num_edges(); ++e) has_input[g.edges[2 * e + 1]] = true;
  double compute = 0, footprint = 0, tiles = 0;
  for (int64_t i = 0; i < g.num_nodes; ++i) {
    Shape s = node_shape(g, i);
    double dm = s.dims[s.rank - 1], ds = s.rank >= 2 ? s.dims[s.rank - 2] : 1, outer = 1;
    for (int d = 0; d + 2 < s.rank; ++d) outer *= s.dims[d];
    double padded = round_up(dm, tm) * round_up(ds, ts) * round_up(outer, to);
    compute += op_weight(g.node_opcode[i]) * padded / 1024.0 * (has_input[i] ? 1.0 : 2.0);
    footprint += tm * ts * to * g.node_feat[i * kNodeFeatureDim + kFeatElemBytes];
    if (g.node_feat[i * kNodeFeatureDim + kFeatIsOutput] > 0)
      tiles = std::ceil(dm / tm) * std::ceil(ds / ts) * std::ceil(outer / to);
  }
  constexpr double kVmem = 1 << 20;
  double spill = footprint > kVmem ? 1 + std::log2(footprint / kVmem) : 1;
  return compute * spill + 40 * tiles;
}

std::vector<double> noiseless_cost(const Graph& g) {
  std::vector<double> cost(g.num_configs());
  if (g.task == Task::Layout) {
    LayoutCostTerms t = layout_cost_terms(g);
    for (int64_t c = 0; c < g.num_configs(); ++c) cost[c] = t.base + t.local[c] + t.pairwise[c];
  } else {
    for (int64_t c = 0; c < g.num_configs(); ++c)
      cost[c] = tile_cost(g, &g.config_feat[c * kTileConfigDim]);
  }
  return cost;
}

}  // namespace gst::synth
