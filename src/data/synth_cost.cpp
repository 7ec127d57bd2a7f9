#include "data/synth_cost.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "common/enum_names.h"
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

// The minor dim with the best padding fit (ties: the later dim).
int preferred_dim(const Shape& s) {
  int best = s.rank - 1;
  for (int k = s.rank - 2; k >= 0; --k)
    if (layout_fit(s, k) < layout_fit(s, best) - 1e-12) best = k;
  return best;
}

double size_weight(double elements, const CostFamily& family) {
  return family.heavy ? std::pow(elements / 65536.0, 1.5) : elements / 1024.0;
}

struct FamilyName {
  const char* name;
  Task task;
  void (*set)(CostFamily&);
};

const std::vector<FamilyName>& family_names() {
  static const std::vector<FamilyName> names = {
      {"classic", Task::Layout, [](CostFamily& f) { f.padding = f.coherent = f.relayout = true; }},
      {"padding", Task::Layout, [](CostFamily& f) { f.padding = true; }},
      {"agree", Task::Layout, [](CostFamily& f) { f.agree = true; }},
      {"coherent", Task::Layout, [](CostFamily& f) { f.coherent = true; }},
      {"heavy", Task::Layout, [](CostFamily& f) { f.heavy = true; }},
      {"relayout", Task::Layout, [](CostFamily& f) { f.relayout = true; }},
      {"noisy", Task::Layout, [](CostFamily& f) { f.noisy = true; }},
      {"classic", Task::Tile, [](CostFamily&) {}},
      {"spill", Task::Tile, [](CostFamily& f) { f.spill = true; }},
      {"oneshape", Task::Tile, [](CostFamily& f) { f.oneshape = true; }},
      {"noisy", Task::Tile, [](CostFamily& f) { f.noisy = true; }},
  };
  return names;
}

std::string valid_names(Task task) {
  std::string out;
  for (const auto& n : family_names())
    if (n.task == task) out += (out.empty() ? "" : ", ") + std::string(n.name);
  return out;
}

}  // namespace

CostFamily parse_cost_family(const std::string& spec, Task task) {
  CostFamily f;
  f.task = task;
  f.padding = f.coherent = f.relayout = false;
  const std::string_view task_name = to_string(task);
  std::vector<std::string> tokens;
  for (size_t at = 0; at <= spec.size();) {
    size_t comma = std::min(spec.find(',', at), spec.size());
    tokens.push_back(spec.substr(at, comma - at));
    at = comma + 1;
  }
  for (const std::string& token : tokens) {
    auto it = std::find_if(family_names().begin(), family_names().end(),
                           [&](const FamilyName& n) { return n.name == token && n.task == task; });
    if (it == family_names().end())
      input_error("--cost {}: '{}' is not a {} cost family; valid: {}", spec, token, task_name,
                  valid_names(task));
    it->set(f);
  }
  if (task == Task::Layout && !f.padding && !f.agree) f.agree = true;
  return f;
}

std::string CostFamily::str() const {
  std::string out;
  auto add = [&](bool on, const char* name) {
    if (on) out += (out.empty() ? "" : ",") + std::string(name);
  };
  if (task == Task::Layout) {
    if (padding && coherent && relayout && !agree && !heavy && !noisy) return "classic";
    add(padding, "padding");
    add(agree, "agree");
    add(coherent, "coherent");
    add(heavy, "heavy");
    add(relayout, "relayout");
  } else {
    add(spill, "spill");
    add(oneshape, "oneshape");
  }
  add(noisy, "noisy");
  return out.empty() ? "classic" : out;
}

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

LayoutCostModel::LayoutCostModel(const Graph& g, const CostFamily& family)
    : id_(g.id), agree_(family.agree), config_node_ids_(g.config_node_ids) {
  GST_CHECK(g.task == Task::Layout, "{}: layout_cost_terms needs a layout graph", g.id);
  const int64_t n = g.num_nodes, m = g.num_config_nodes();
  weight_.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    weight_[i] = size_weight(g.node_feat[i * kNodeFeatureDim + kFeatElements], family);
    base_ += 0.05 * op_weight(g.node_opcode[i]) * weight_[i];
  }
  // slot[node] = its index among the configurable nodes, or -1.
  std::vector<int64_t> slot(n, -1);
  for (int64_t j = 0; j < m; ++j) slot[g.config_node_ids[j]] = j;
  // local_[j][k]: the local cost factor of configurable node j with minor dim k; own_[j]: its own.
  local_.resize(m);
  rank_.resize(m);
  own_.resize(m);
  minor_.resize(m);
  for (int64_t j = 0; j < m; ++j) {
    const int64_t node = g.config_node_ids[j];
    Shape shape = node_shape(g, node);
    rank_[j] = shape.rank;
    own_[j] = static_cast<int>(g.node_feat[node * kNodeFeatureDim + kFeatLayout]);
    GST_CHECK(own_[j] >= 0 && own_[j] < shape.rank, "{}: node {} has own minor dim {}", g.id, node,
              own_[j]);
    const int preferred = preferred_dim(shape);
    for (int k = 0; k < shape.rank; ++k) {
      local_[j][k] = family.padding ? layout_fit(shape, k) : 0.0;
      if (family.agree) local_[j][k] += (k != own_[j]) + 0.5 * (k != preferred);
    }
  }
  // A copy weighs like a tenth of the padding term's range, or like one layout disagreement.
  mismatch_ = family.padding ? kMismatchWeight : 1.0;
  // (slot u, slot v) of edges between configurables
  for (int64_t e = 0; family.relayout && e < g.num_edges(); ++e) {
    int64_t u = slot[g.edges[2 * e]], v = slot[g.edges[2 * e + 1]];
    if (u >= 0 && v >= 0) pairs_.push_back({u, v});
  }
}

void LayoutCostModel::terms(const float* block, int64_t first, int64_t count, double* local,
                            double* pairwise) {
  const auto m = static_cast<int64_t>(config_node_ids_.size());
  for (int64_t i = 0; i < count; ++i) {
    const float* feat = block + i * m * kLayoutConfigDim;
    double sum = 0;
    for (int64_t j = 0; j < m; ++j) {
      int k = static_cast<int>(feat[j * kLayoutConfigDim]);
      if (k < 0 && agree_) k = own_[j];  // unset: the node keeps its own layout
      GST_CHECK(k >= 0 && k < rank_[j], "{}: config {} node {} has minor dim {}", id_, first + i,
                config_node_ids_[j], k);
      minor_[j] = k;
      sum += weight_[config_node_ids_[j]] * local_[j][k];
    }
    double pair = 0;
    for (const auto& [u, v] : pairs_)
      if (minor_[u] != minor_[v]) pair += mismatch_ * weight_[config_node_ids_[u]];
    local[i] = sum;
    pairwise[i] = pair;
  }
}

LayoutCostTerms layout_cost_terms(const Graph& g, const CostFamily& family) {
  LayoutCostModel model(g, family);
  const int64_t c = g.num_configs();
  LayoutCostTerms terms;
  terms.base = model.base();
  terms.local.assign(c, 0.0);
  terms.pairwise.assign(c, 0.0);
  model.terms(g.config_feat.data(), 0, c, terms.local.data(), terms.pairwise.data());
  return terms;
}

TileCostTerms tile_cost_terms(const Graph& g, const float* config, const CostFamily& family) {
  const double tm = config[kTileMinor], ts = config[kTileSecond], to = config[kTileOuter];
  std::vector<bool> has_input(g.num_nodes, false);
  for (int64_t e = 0; e < g.num_edges(); ++e) has_input[g.edges[2 * e + 1]] = true;
  int64_t output = -1;
  for (int64_t i = 0; i < g.num_nodes && output < 0; ++i)
    if (g.node_feat[i * kNodeFeatureDim + kFeatIsOutput] > 0) output = i;
  GST_CHECK(output >= 0, "{}: no node is marked as the output (not a synthetic kernel?)", g.id);
  TileCostTerms t;
  double footprint = 0;
  for (int64_t i = 0; i < g.num_nodes; ++i) {
    // With `oneshape` only the output node holds a shape, and every node works on its tiles.
    Shape s = node_shape(g, family.oneshape ? output : i);
    double dm = s.dims[s.rank - 1], ds = s.rank >= 2 ? s.dims[s.rank - 2] : 1, outer = 1;
    for (int d = 0; d + 2 < s.rank; ++d) outer *= s.dims[d];
    double padded = round_up(dm, tm) * round_up(ds, ts) * round_up(outer, to);
    t.compute += op_weight(g.node_opcode[i]) * padded / 1024.0 * (has_input[i] ? 1.0 : 2.0);
    footprint += tm * ts * to * g.node_feat[i * kNodeFeatureDim + kFeatElemBytes];
    if (i == output)
      t.overhead = 40 * std::ceil(dm / tm) * std::ceil(ds / ts) * std::ceil(outer / to);
  }
  const double vmem = family.spill ? 1 << 18 : 1 << 20, slope = family.spill ? 2 : 1;
  t.spill = footprint > vmem ? 1 + slope * std::log2(footprint / vmem) : 1;
  return t;
}

double tile_cost(const Graph& g, const float* config, const CostFamily& family) {
  TileCostTerms t = tile_cost_terms(g, config, family);
  return t.compute * t.spill + t.overhead;
}

std::vector<double> noiseless_cost(const Graph& g, const CostFamily& family) {
  std::vector<double> cost(g.num_configs());
  if (g.task == Task::Layout) {
    LayoutCostTerms t = layout_cost_terms(g, family);
    for (int64_t c = 0; c < g.num_configs(); ++c) cost[c] = t.base + t.local[c] + t.pairwise[c];
  } else {
    for (int64_t c = 0; c < g.num_configs(); ++c)
      cost[c] = tile_cost(g, &g.config_feat[c * kTileConfigDim], family);
  }
  return cost;
}

std::vector<double> oracle_cost(const Graph& g, const CostFamily& family) {
  std::vector<double> cost(g.num_configs());
  CostFamily output_shape = family;  // tile: every node taken at the output node's shape
  output_shape.oneshape = true;
  if (g.task == Task::Layout) {
    LayoutCostTerms t = layout_cost_terms(g, family);
    for (int64_t c = 0; c < g.num_configs(); ++c) cost[c] = t.base + t.local[c];
  } else {
    for (int64_t c = 0; c < g.num_configs(); ++c)
      cost[c] = tile_cost(g, &g.config_feat[c * kTileConfigDim], output_shape);
  }
  return cost;
}

}  // namespace gst::synth
