#include "data/synth.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>

#include "common/enum_names.h"
#include "common/errors.h"
#include "common/progress.h"
#include "data/collection.h"
#include "data/graph_io.h"
#include "data/synth_cost.h"
#include "eval/metrics.h"

namespace gst {
namespace {

using synth::OpKind;

// splitmix64: a tiny generator with portable output, so files are identical on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  int64_t below(int64_t n) { return std::min<int64_t>(n - 1, uniform() * n); }
  bool chance(double p) { return uniform() < p; }
  double normal() {
    double u1 = uniform(), u2 = uniform();
    return std::sqrt(-2 * std::log1p(-u1)) * std::cos(2 * M_PI * u2);
  }
  int64_t geometric(double mean) { return static_cast<int64_t>(-std::log1p(-uniform()) * mean); }
  template <typename T>
  const T& pick(const std::vector<T>& v) {
    return v[below(v.size())];
  }

 private:
  uint64_t state_;
};

uint64_t mix(uint64_t a, uint64_t b) { return Rng(a ^ Rng(b).next()).next(); }

struct NodeSpec {
  int opcode = 0;
  OpKind kind = OpKind::Source;
  int rank = 1;
  std::array<int64_t, 4> dims{1, 1, 1, 1};
  std::array<int, 4> layout{3, 2, 1, 0};  // own minor-to-major order (first `rank` entries)
  int elem_bytes = 4;

  double elements() const {
    double e = 1;
    for (int d = 0; d < rank; ++d) e *= dims[d];
    return e;
  }
};

const std::vector<int64_t> kDimSizes = {1,   2,   3,   4,   8,   16,  32,   64,   96,  100,
                                        128, 200, 256, 384, 512, 768, 1000, 1024, 2048};

std::array<int64_t, 4> random_dims(Rng& rng, int rank, double max_elements) {
  while (true) {
    std::array<int64_t, 4> dims{1, 1, 1, 1};
    double e = 1;
    for (int d = 0; d < rank; ++d) e *= dims[d] = rng.pick(kDimSizes);
    if (e <= max_elements && e >= 8) return dims;
  }
}

std::vector<int> opcodes_of(OpKind kind) {
  std::vector<int> out;
  for (const auto& op : synth::opcode_table())
    if (op.kind == kind) out.push_back(op.code);
  return out;
}

NodeSpec make_node(Rng& rng, OpKind kind, int opcode) {
  NodeSpec s;
  s.kind = kind;
  s.opcode = opcode;
  s.elem_bytes = rng.chance(0.3) ? 2 : 4;
  return s;
}

// The shape an operation produces from its first operand's shape.
void derive_shape(Rng& rng, const NodeSpec& in, NodeSpec& out, double max_elements) {
  out.rank = in.rank;
  out.dims = in.dims;
  const std::string name = [&] {
    for (const auto& op : synth::opcode_table())
      if (op.code == out.opcode) return std::string(op.name);
    return std::string();
  }();
  if (name == "transpose" && in.rank >= 2) {
    std::swap(out.dims[in.rank - 1], out.dims[in.rank - 2]);
  } else if (name == "reduce" && in.rank >= 2) {
    out.rank = in.rank - 1;
    out.dims[in.rank - 1] = 1;
  } else if (name == "broadcast" && in.rank < 4 && in.elements() * 8 <= max_elements) {
    out.rank = in.rank + 1;
    for (int d = out.rank - 1; d > 0; --d) out.dims[d] = out.dims[d - 1];
    out.dims[0] = rng.pick(std::vector<int64_t>{2, 4, 8});
  } else if (name == "dot" || name == "convolution" || name == "reshape" || name == "fusion") {
    out.rank = 2 + rng.below(3);
    out.dims = random_dims(rng, out.rank, max_elements);
  } else if (name == "concatenate" && in.elements() * 2 <= max_elements) {
    out.dims[0] *= 2;
  }
}

// Row-major minor-to-major order (r-1, ..., 0), or in the agree family a random order at half
// the nodes (a layout an earlier pass chose).
void choose_own_layout(Rng& rng, NodeSpec& s, const synth::CostFamily& family) {
  for (int d = 0; d < 4; ++d) s.layout[d] = d < s.rank ? s.rank - 1 - d : -1;
  if (!family.agree || !rng.chance(0.5)) return;
  for (int d = s.rank; d > 1; --d) std::swap(s.layout[d - 1], s.layout[rng.below(d)]);
}

// Irrelevant columns: 5 integers 0..9, or with `noisy` 40 columns of mixed kinds, among them
// small categories in -1..5 that look like layout indices.
void fill_noise(Rng& rng, const synth::CostFamily& family, float* f) {
  if (!family.noisy) {
    for (int d = 0; d < 5; ++d) f[synth::kFeatNoise + d] = rng.below(10);
    return;
  }
  for (int d = 0; d < synth::kNoisyColumns; ++d) {
    float& x = f[synth::kFeatNoise + d];
    switch (d % 5) {
      case 0:
        x = rng.normal();
        break;
      case 1:
        x = rng.below(10);
        break;
      case 2:
        x = std::round(std::exp(3 + 2 * rng.normal()));
        break;  // heavy-tailed sizes
      case 3:
        x = rng.below(7) - 1;
        break;
      default:
        x = rng.chance(0.2);
        break;
    }
  }
}

void fill_node_features(Rng& rng, const NodeSpec& s, bool is_output,
                        const synth::CostFamily& family, float* f) {
  f[synth::kFeatRank] = s.rank;
  // `oneshape` kernels: only the output node tells the shape.
  const bool shape = !family.oneshape || is_output;
  for (int d = 0; d < s.rank && shape; ++d) f[synth::kFeatDims + d] = s.dims[d];
  double e = shape ? s.elements() : 0;
  f[synth::kFeatElements] = e;
  f[synth::kFeatLogElements] = shape ? std::log2(e) : 0;
  f[synth::kFeatElemBytes] = s.elem_bytes;
  f[synth::kFeatBytes] = e * s.elem_bytes;
  for (int d = 0; d < 4; ++d) f[synth::kFeatLayout + d] = d < s.rank ? s.layout[d] : -1;
  if (s.opcode == 21)  // convolution: window sizes and strides
    for (int d = 0; d < 6; ++d)
      f[synth::kFeatWindow + d] = d < 3 ? 1 + 2 * rng.below(4) : 1 + rng.below(2);
  f[synth::kFeatIsOutput] = is_output ? 1 : 0;
  fill_noise(rng, family, f);
}

// A DAG in topological order shaped like an HLO program: long chains (most nodes consume their
// predecessor), fan-in (2-3 operands, skip connections) and fan-out (hub parameters/constants).
std::vector<NodeSpec> make_layout_dag(Rng& rng, int64_t n, std::vector<int64_t>& edges) {
  const auto sources = opcodes_of(OpKind::Source), elementwise = opcodes_of(OpKind::Elementwise),
             sensitive = opcodes_of(OpKind::LayoutSensitive), other = opcodes_of(OpKind::Other);
  constexpr double kMaxElements = 1 << 23;
  std::vector<NodeSpec> nodes(n);
  std::vector<int64_t> hubs;
  for (int64_t i = 0; i < n; ++i) {
    if (i == 0 || rng.chance(0.08)) {
      nodes[i] = make_node(rng, OpKind::Source, rng.pick(sources));
      nodes[i].rank = 1 + rng.below(4);
      nodes[i].dims = random_dims(rng, nodes[i].rank, kMaxElements);
      if (rng.chance(0.3)) hubs.push_back(i);
      continue;
    }
    double r = rng.uniform();
    OpKind kind = r < 0.5    ? OpKind::Elementwise
                  : r < 0.75 ? OpKind::LayoutSensitive
                             : OpKind::Other;
    const auto& codes = kind == OpKind::Elementwise       ? elementwise
                        : kind == OpKind::LayoutSensitive ? sensitive
                                                          : other;
    nodes[i] = make_node(rng, kind, rng.pick(codes));
    double u = rng.uniform();
    int operands = u < 0.6 ? 1 : u < 0.94 ? 2 : 3;
    std::vector<int64_t> ins = {rng.chance(0.75) ? i - 1
                                                 : std::max<int64_t>(0, i - 1 - rng.geometric(8))};
    for (int k = 1; k < operands; ++k) {
      int64_t in = !hubs.empty() && rng.chance(0.15)
                       ? rng.pick(hubs)
                       : std::max<int64_t>(0, i - 1 - rng.geometric(30));
      if (std::find(ins.begin(), ins.end(), in) == ins.end()) ins.push_back(in);
    }
    derive_shape(rng, nodes[ins[0]], nodes[i], kMaxElements);
    for (int64_t in : ins) {
      edges.push_back(in);
      edges.push_back(i);
    }
  }
  return nodes;
}

// Chooses ~share * n configurable nodes in short connected runs along edges, seeded at
// layout-sensitive ops (as in XLA, where layout choices cluster around dots, convs, transposes).
std::vector<int64_t> choose_configurable(Rng& rng, const std::vector<NodeSpec>& nodes,
                                         const std::vector<int64_t>& edges, double share) {
  const int64_t n = static_cast<int64_t>(nodes.size());
  std::vector<std::vector<int64_t>> consumers(n);
  for (size_t e = 0; e < edges.size(); e += 2) consumers[edges[e]].push_back(edges[e + 1]);
  auto eligible = [&](int64_t i) { return nodes[i].rank >= 2 && nodes[i].kind != OpKind::Source; };
  std::vector<int64_t> seeds, rest;
  for (int64_t i = 0; i < n; ++i)
    if (eligible(i)) (nodes[i].kind == OpKind::LayoutSensitive ? seeds : rest).push_back(i);
  for (auto* list : {&seeds, &rest})
    for (size_t i = list->size(); i > 1; --i) std::swap((*list)[i - 1], (*list)[rng.below(i)]);
  seeds.insert(seeds.end(), rest.begin(), rest.end());

  const int64_t target = std::max<int64_t>(1, std::llround(share * n));
  std::vector<bool> chosen(n, false);
  int64_t count = 0;
  for (int64_t seed : seeds) {
    if (count >= target) break;
    int64_t at = seed;
    for (int step = 0; step < 4 && count < target && !chosen[at]; ++step) {
      chosen[at] = true;
      ++count;
      std::vector<int64_t> next;
      for (int64_t c : consumers[at])
        if (eligible(c) && !chosen[c]) next.push_back(c);
      if (next.empty() || !rng.chance(0.8)) break;
      at = rng.pick(next);
    }
  }
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < n; ++i)
    if (chosen[i]) ids.push_back(i);
  return ids;
}

// Minor-to-major order with minor dim k: [k, then the other dims from last to first].
void encode_layout(int rank, int k, float* out) {
  float order[6] = {-1, -1, -1, -1, -1, -1};
  order[0] = k;
  for (int d = rank - 1, at = 1; d >= 0; --d)
    if (d != k) order[at++] = d;
  for (int s = 0; s < 6; ++s) out[s] = out[6 + s] = order[s];
  for (int s = 12; s < 18; ++s) out[s] = -1;
}

double noisy(Rng& rng, double cost, double sigma) {
  return std::max(1.0, std::round(1000.0 * cost * std::exp(sigma * rng.normal())));
}

// The random draws of a layout graph's configs, a block of configs at a time: the same values
// whether the graph's node_config_feat is held whole or produced while it is written. restart()
// replays them from the first config.
class LayoutConfigDraw {
 public:
  LayoutConfigDraw(const SynthOptions& o, const synth::CostFamily& family,
                   const std::vector<NodeSpec>& nodes, const Graph& g, const Rng& rng)
      : coherent_(family.coherent),
        agree_(family.agree),
        near_default_(o.search == ConfigSearch::Default),
        start_(rng),
        rng_(rng) {
    const int64_t n = g.num_nodes, m = g.num_config_nodes();
    // producer_[j]: the slot of a configurable node feeding configurable node j, or -1.
    std::vector<int64_t> slot(n, -1);
    producer_.assign(m, -1);
    for (int64_t j = 0; j < m; ++j) slot[g.config_node_ids[j]] = j;
    for (size_t e = 0; e < g.edges.size(); e += 2) {
      int64_t u = slot[g.edges[e]], v = slot[g.edges[e + 1]];
      if (u >= 0 && v >= 0 && producer_[v] < 0) producer_[v] = u;
    }
    for (int64_t j = 0; j < m; ++j) {
      rank_.push_back(nodes[g.config_node_ids[j]].rank);
      own_.push_back(nodes[g.config_node_ids[j]].layout[0]);
    }
    minor_.resize(m);
  }

  int64_t next() const { return next_; }
  // The generator's state after the configs drawn so far (the graph's later draws continue it).
  const Rng& rng() const { return rng_; }
  void restart() {
    rng_ = start_;
    next_ = 0;
  }

  // The next `count` configs into out: [count, M, 18].
  void draw(int64_t count, float* out) {
    const auto m = static_cast<int64_t>(producer_.size());
    for (int64_t i = 0; i < count; ++i, ++next_) {
      // random: with `coherent` each config has its own coherence, the chance that a node takes
      // its configurable producer's minor dim, else every node draws independently; default: a
      // few nodes moved away from their own layout.
      double coherence = coherent_ ? rng_.uniform() : 0.0;
      double perturb = near_default_ ? 0.05 + 0.35 * rng_.uniform() : 1.0;
      for (int64_t j = 0; j < m; ++j) {  // slots follow node order, so producers come first
        int k = own_[j];
        float* f = out + (i * m + j) * kLayoutConfigDim;
        if (rng_.chance(perturb)) {
          if (agree_ && !near_default_ && rng_.chance(0.1)) {  // left unset: keeps its own
            std::fill(f, f + kLayoutConfigDim, -1.0f);
            minor_[j] = k;
            continue;
          }
          bool follow = !near_default_ && producer_[j] >= 0 && minor_[producer_[j]] < rank_[j] &&
                        rng_.chance(coherence);
          k = follow ? minor_[producer_[j]] : static_cast<int>(rng_.below(rank_[j]));
        }
        minor_[j] = k;
        encode_layout(rank_[j], k, f);
      }
    }
  }

 private:
  bool coherent_, agree_, near_default_;
  Rng start_, rng_;
  int64_t next_ = 0;
  std::vector<int64_t> producer_;
  std::vector<int> rank_, own_, minor_;
};

// What synth_layout makes: the graph and, when its node_config_feat is not held, the draw that
// produces it and the cost references computed from it.
struct SynthResult {
  Graph graph;
  std::unique_ptr<LayoutConfigDraw> draw;  // set when graph.config_feat was left empty
  std::vector<double> ceiling, oracle;     // with draw: noiseless and oracle cost per config
};

// A graph whose node_config_feat would hold more than stream_above bytes (when >= 0) is drawn
// in blocks of about block_bytes and not kept (the writer replays the draw); its runtimes and
// references come from the blocks.
SynthResult synth_layout(const SynthOptions& o, const synth::CostFamily& family, Rng& rng,
                         int64_t n, int64_t stream_above, int64_t block_bytes) {
  SynthResult result;
  Graph& g = result.graph;
  g.task = Task::Layout;
  g.num_nodes = n;
  std::vector<NodeSpec> nodes = make_layout_dag(rng, n, g.edges);
  if (std::none_of(nodes.begin(), nodes.end(),
                   [](const NodeSpec& s) { return s.rank >= 2 && s.kind != OpKind::Source; })) {
    // Tiny graphs: make the output a rank-2 op so there is something to configure.
    nodes[n - 1].kind = OpKind::LayoutSensitive;
    nodes[n - 1].opcode = 22;
    nodes[n - 1].rank = 2;
    nodes[n - 1].dims = random_dims(rng, 2, 1 << 20);
  }
  double share = o.min_config_share + rng.uniform() * (o.max_config_share - o.min_config_share);
  g.config_node_ids = choose_configurable(rng, nodes, g.edges, share);

  g.node_feat.assign(n * kNodeFeatureDim, 0.0f);
  g.node_opcode.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    g.node_opcode[i] = static_cast<uint8_t>(nodes[i].opcode);
    choose_own_layout(rng, nodes[i], family);
    fill_node_features(rng, nodes[i], i == n - 1, family, &g.node_feat[i * kNodeFeatureDim]);
  }

  const int64_t m = g.num_config_nodes(), c = o.configs;
  const int64_t row_bytes = m * kLayoutConfigDim * static_cast<int64_t>(sizeof(float));
  const int64_t block_configs = stream_above >= 0 && c * row_bytes > stream_above
                                    ? std::clamp<int64_t>(block_bytes / row_bytes, 1, c)
                                    : 0;
  auto draw = std::make_unique<LayoutConfigDraw>(o, family, nodes, g, rng);
  std::vector<double> local(c), pairwise(c);
  if (block_configs <= 0) {
    g.config_feat.resize(c * m * kLayoutConfigDim);
    draw->draw(c, g.config_feat.data());
  } else {
    synth::LayoutCostModel model(g, family);
    std::vector<float> block(std::min(block_configs, c) * m * kLayoutConfigDim);
    for (int64_t first = 0; first < c; first += block_configs) {
      int64_t count = std::min(block_configs, c - first);
      draw->draw(count, block.data());
      model.terms(block.data(), first, count, &local[first], &pairwise[first]);
    }
    result.ceiling.resize(c);
    result.oracle.resize(c);
    for (int64_t cfg = 0; cfg < c; ++cfg) {
      result.ceiling[cfg] = model.base() + local[cfg] + pairwise[cfg];
      result.oracle[cfg] = model.base() + local[cfg];
    }
  }
  rng = draw->rng();
  if (rng.chance(0.3)) {
    int splits = 1 + rng.below(3);
    for (int s = 0; s < splits && n > 1; ++s) g.node_splits.push_back(1 + rng.below(n - 1));
    std::sort(g.node_splits.begin(), g.node_splits.end());
  }
  g.runtime.assign(c, 0.0);  // sizes C for the cost function
  const std::vector<double> cost =
      block_configs <= 0 ? synth::noiseless_cost(g, family) : result.ceiling;
  for (int64_t cfg = 0; cfg < c; ++cfg) g.runtime[cfg] = noisy(rng, cost[cfg], o.noise);
  if (block_configs > 0) {
    draw->restart();
    result.draw = std::move(draw);
  }
  return result;
}

// A fused kernel: parameters feeding a short chain of elementwise/reduce ops into one output.
Graph synth_tile(const SynthOptions& o, const synth::CostFamily& family, Rng& rng, int64_t n) {
  Graph g;
  g.task = Task::Tile;
  g.num_nodes = n;
  const auto elementwise = opcodes_of(OpKind::Elementwise);
  int out_rank = 1 + rng.below(4);
  std::array<int64_t, 4> out_dims = random_dims(rng, out_rank, 1 << 20);
  std::vector<NodeSpec> nodes(n);
  for (int64_t i = 0; i < n; ++i) {
    bool source = i == 0 || rng.chance(0.3);
    nodes[i] = make_node(rng, source ? OpKind::Source : OpKind::Elementwise,
                         source ? (rng.chance(0.8) ? 0 : 1) : rng.pick(elementwise));
    nodes[i].rank = out_rank;
    nodes[i].dims = out_dims;
    if (source && out_rank > 1 && rng.chance(0.3)) {  // a broadcast operand: drop leading dims
      int drop = 1 + rng.below(out_rank - 1);
      nodes[i].rank = out_rank - drop;
      for (int d = 0; d < nodes[i].rank; ++d) nodes[i].dims[d] = out_dims[d + drop];
      for (int d = nodes[i].rank; d < 4; ++d) nodes[i].dims[d] = 1;
    }
    if (source) continue;
    g.edges.push_back(i - 1);
    g.edges.push_back(i);
    if (i >= 2 && rng.chance(0.5)) {
      g.edges.push_back(rng.below(i - 1));
      g.edges.push_back(i);
    }
  }
  g.node_feat.assign(n * kNodeFeatureDim, 0.0f);
  g.node_opcode.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    g.node_opcode[i] = static_cast<uint8_t>(nodes[i].opcode);
    choose_own_layout(rng, nodes[i], family);
    fill_node_features(rng, nodes[i], i == n - 1, family, &g.node_feat[i * kNodeFeatureDim]);
  }

  // Tile sizes: t_m in 8..1024, t_s in 1..256, t_o in 1..8 (powers of two): 288 candidates,
  // drawn without repetition while they last.
  std::vector<std::array<int, 3>> grid;
  for (int tm = 8; tm <= 1024; tm *= 2)
    for (int ts = 1; ts <= 256; ts *= 2)
      for (int to = 1; to <= 8; to *= 2) grid.push_back({tm, ts, to});
  const int64_t c = o.configs;
  g.config_feat.assign(c * kTileConfigDim, 0.0f);
  const int64_t grid_size = static_cast<int64_t>(grid.size());
  for (int64_t cfg = 0; cfg < c; ++cfg) {
    if (cfg % grid_size == 0)
      for (int64_t i = grid_size; i > 1; --i) std::swap(grid[i - 1], grid[rng.below(i)]);
    const auto& t = grid[cfg % grid_size];
    float* f = &g.config_feat[cfg * kTileConfigDim];
    for (int k = 0; k < 3; ++k) {
      f[k] = t[k];
      f[3 + k] = std::log2(t[k]);
    }
    f[6] = float(t[0]) * t[1];
  }
  float default_tile[kTileConfigDim] = {128, 8, 1, 7, 3, 0, 1024};
  double default_cost = synth::tile_cost(g, default_tile, family);
  g.runtime.assign(c, 0.0);  // sizes C for the cost function
  std::vector<double> cost = synth::noiseless_cost(g, family);
  g.runtime_normalizer.resize(c);
  for (int64_t cfg = 0; cfg < c; ++cfg) {
    g.runtime[cfg] = noisy(rng, cost[cfg], o.noise);
    g.runtime_normalizer[cfg] = noisy(rng, default_cost, o.noise);
  }
  return g;
}

// Runtimes as the metrics compare them: tile runtimes relative to the default tile.
std::vector<double> measured(const Graph& g) {
  if (g.runtime_normalizer.empty()) return g.runtime;
  std::vector<double> out(g.runtime.size());
  for (size_t c = 0; c < out.size(); ++c) out[c] = g.runtime[c] / g.runtime_normalizer[c];
  return out;
}

// Adds one graph's ceiling and oracle figures to `sums` (divided by the count at the end); a
// graph whose node_config_feat was not kept brings its figures computed from the blocks.
void add_reference(const SynthResult& r, const synth::CostFamily& family, ReferenceFigures& sums) {
  const Graph& g = r.graph;
  const std::vector<double> truth = measured(g),
                            ceiling = r.draw ? r.ceiling : synth::noiseless_cost(g, family),
                            oracle = r.draw ? r.oracle : synth::oracle_cost(g, family);
  ++sums.graphs;
  sums.ceiling_tau += kendall_tau(ceiling, truth);
  sums.oracle_tau += kendall_tau(oracle, truth);
  if (g.task == Task::Tile) {
    sums.ceiling_top1 += top_k_slowdown(ceiling, truth, 1);
    sums.ceiling_top5 += top_k_slowdown(ceiling, truth, 5);
    sums.oracle_top1 += top_k_slowdown(oracle, truth, 1);
    sums.oracle_top5 += top_k_slowdown(oracle, truth, 5);
  }
}

// Divides the sums of add_reference by the graph count and logs them; `what` follows the family.
void finish_reference(const std::string& family, const std::string& what, Task task,
                      ReferenceFigures& f) {
  for (double* v : {&f.ceiling_tau, &f.oracle_tau, &f.ceiling_top1, &f.ceiling_top5, &f.oracle_top1,
                    &f.oracle_top5})
    *v /= std::max<int64_t>(1, f.graphs);
  std::string tile = task == Task::Tile
                         ? fmt::format(", top-1/5 slowdown {:.4f}/{:.4f} (oracle {:.4f}/{:.4f})",
                                       f.ceiling_top1, f.ceiling_top5, f.oracle_top1, f.oracle_top5)
                         : "";
  spdlog::info("synth: cost family {}{}: noise ceiling tau {:.4f}, oracle tau {:.4f}{}", family,
               what, f.ceiling_tau, f.oracle_tau, tile);
}

uint64_t name_hash(const std::string& s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
  return h;
}

// synth_graph, with node_config_feat left to a replayable draw when it would hold more than
// stream_above bytes (>= 0).
SynthResult synth_result(const SynthOptions& options, Task task, uint64_t seed, int64_t num_nodes,
                         int64_t stream_above, int64_t block_bytes) {
  GST_CHECK(num_nodes >= 1, "synth_graph: num_nodes must be >= 1, got {}", num_nodes);
  GST_CHECK(options.configs >= 1, "synth_graph: configs must be >= 1, got {}", options.configs);
  Rng rng(mix(seed, task == Task::Layout ? 1 : 2));
  const synth::CostFamily family = synth::parse_cost_family(options.cost, task);
  SynthResult r;
  if (task == Task::Layout)
    r = synth_layout(options, family, rng, num_nodes, stream_above, block_bytes);
  else
    r.graph = synth_tile(options, family, rng, num_nodes);
  r.graph.id = fmt::format("synth_{:016x}", seed);
  validate_graph(r.graph, r.graph.id, /*allow_streamed=*/r.draw != nullptr);
  return r;
}

// Writes a graph; node_config_feat of a graph that does not hold it is drawn again block by block
// as the file is written, so the file has the same bytes either way.
void write_synth_graph(const std::filesystem::path& path, SynthResult& r, bool compress,
                       int64_t block_bytes) {
  if (!r.draw) {
    write_graph(path, r.graph, compress);
    return;
  }
  const Graph& g = r.graph;
  NpzArrays arrays = graph_to_npz(g);
  arrays.erase("node_config_feat");
  const int64_t m = g.num_config_nodes();
  const int64_t row_bytes = m * kLayoutConfigDim * static_cast<int64_t>(sizeof(float));
  const int64_t block_configs = std::clamp<int64_t>(block_bytes / row_bytes, 1, g.num_configs());
  LayoutConfigDraw& draw = *r.draw;
  std::vector<float> block(block_configs * m * kLayoutConfigDim);
  uint64_t block_start = 0, block_end = 0;  // byte range of node_config_feat held in `block`
  NpyGenerator gen;
  gen.dtype = DType::F32;
  gen.shape = {g.num_configs(), m, kLayoutConfigDim};
  gen.fill = [&](uint64_t offset, uint8_t* dest, size_t bytes) {
    while (bytes > 0) {
      if (offset < block_start) {  // the writer went back: replay from the first config
        draw.restart();
        block_start = block_end = 0;
      }
      while (offset >= block_end) {
        int64_t count = std::min(block_configs, g.num_configs() - draw.next());
        GST_CHECK(count > 0, "{}: node_config_feat read past its end", path.string());
        block_start = static_cast<uint64_t>(draw.next() * row_bytes);
        draw.draw(count, block.data());
        block_end = block_start + static_cast<uint64_t>(count * row_bytes);
      }
      size_t n = std::min<uint64_t>(bytes, block_end - offset);
      std::memcpy(dest, reinterpret_cast<const uint8_t*>(block.data()) + (offset - block_start), n);
      dest += n;
      offset += n;
      bytes -= n;
    }
  };
  write_npz(path, arrays, compress, {{"node_config_feat", gen}});
}

}  // namespace

Graph synth_graph(const SynthOptions& options, Task task, uint64_t seed, int64_t num_nodes) {
  return synth_result(options, task, seed, num_nodes, -1, 0).graph;
}

SynthReference synth_collection(const std::string& collection, const std::filesystem::path& out,
                                int64_t num_graphs, uint64_t seed, const SynthOptions& options) {
  CollectionName name = parse_collection_name(collection);
  const synth::CostFamily family = synth::parse_cost_family(options.cost, name.task);
  if (options.configs < 2)
    input_error("synth: --configs {} leaves nothing to rank; need >= 2", options.configs);
  if (name.task == Task::Layout && options.max_config_share <= 0)
    input_error("synth: --max-config-share {} leaves no configurable nodes; need > 0",
                options.max_config_share);
  SynthOptions o = options;
  if (name.task == Task::Layout) o.search = parse_enum<ConfigSearch>(name.search, collection);
  const bool layout = name.task == Task::Layout;
  const int64_t lo = layout ? o.min_nodes : o.min_tile_nodes;
  const int64_t hi = layout ? o.max_nodes : o.max_tile_nodes;
  if (lo < 1 || hi < lo) input_error("synth: node range [{}, {}] is empty", lo, hi);
  if (o.train_fraction < 0 || o.valid_fraction < 0 || o.train_fraction + o.valid_fraction > 1)
    input_error("synth: split fractions train {} + valid {} must be within 0..1", o.train_fraction,
                o.valid_fraction);

  const std::filesystem::path dir = out / name.relative_dir();
  for (const auto& split : split_names()) std::filesystem::create_directories(dir / split);

  // Graphs are dealt to splits in a seeded random order.
  Rng rng(mix(seed, name_hash(name.str())));
  std::vector<int64_t> order(num_graphs);
  std::iota(order.begin(), order.end(), 0);
  for (int64_t i = num_graphs; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  const int64_t n_train = std::llround(num_graphs * o.train_fraction);
  const int64_t n_valid =
      std::min<int64_t>(num_graphs - n_train, std::llround(num_graphs * o.valid_fraction));
  std::vector<std::string> split_of(num_graphs);
  for (int64_t r = 0; r < num_graphs; ++r)
    split_of[order[r]] = r < n_train ? "train" : r < n_train + n_valid ? "valid" : "test";

  // A graph's node_config_feat is held whole up to a quarter of the budget, else drawn and written
  // in blocks of a sixteenth.
  struct {
    int64_t stream_above, block_bytes;
  } memory{o.stream_above_bytes >= 0 ? o.stream_above_bytes : o.memory_bytes / 4,
           std::max<int64_t>(o.memory_bytes / 16, 1)};
  Progress progress("graphs", num_graphs);
  SynthReference ref;
  ref.family = family.str();
  for (int64_t i = 0; i < num_graphs; ++i) {
    uint64_t graph_seed = mix(mix(seed, name_hash(name.str())), i);
    Rng size_rng(graph_seed);
    int64_t nodes = std::llround(std::exp(
        std::log(double(lo)) + size_rng.uniform() * (std::log(double(hi)) - std::log(double(lo)))));
    SynthResult r = synth_result(o, name.task, graph_seed, std::clamp(nodes, lo, hi),
                                 memory.stream_above, memory.block_bytes);
    r.graph.id = fmt::format("synth_{:05d}", i);
    if (r.draw)
      spdlog::info("synth: {}: node_config_feat [{}, {}, {}] ({:.0f} MB) written a block at a time",
                   r.graph.id, r.graph.num_configs(), r.graph.num_config_nodes(), kLayoutConfigDim,
                   r.graph.num_configs() * r.graph.num_config_nodes() * kLayoutConfigDim * 4 / 1e6);
    write_synth_graph(dir / split_of[i] / (r.graph.id + ".npz"), r, o.compress, memory.block_bytes);
    add_reference(r, family, ref);
    add_reference(r, family, ref.splits[split_of[i]]);
    progress.advance();
  }
  double seconds = progress.finish();
  spdlog::info("synth: wrote {} {} graphs ({} train, {} valid, {} test) to {} in {:.1f} s",
               num_graphs, name.str(), n_train, n_valid, num_graphs - n_train - n_valid,
               dir.string(), seconds);
  finish_reference(ref.family, "", name.task, ref);
  for (auto& [split, figures] : ref.splits)
    finish_reference(ref.family, fmt::format(", {} split ({} graphs)", split, figures.graphs),
                     name.task, figures);
  return ref;
}

}  // namespace gst
