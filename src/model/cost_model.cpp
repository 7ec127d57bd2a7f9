#include "model/cost_model.h"

#include <ATen/record_function.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "common/errors.h"
#include "model/activation.h"
#include "model/row_pooling.h"

namespace gst {

namespace {

constexpr int64_t kOpcodeDim = 32;
constexpr float kConstantStd = 1e-6f;  // a feature column with a smaller train std is dropped
constexpr double kLogScale = 0.125;    // applied to log1p inputs (see node_inputs)
// Standardized values are clipped: one huge tensor must not swamp a layer (heavy tails).
constexpr double kStandardClip = 8.0;
constexpr double kMaxPoolLogWeight = 30.0;  // e^30 ~ 1e13: far from float overflow when summed
// Log weights must reach ~ln(tensor size) (10-20) from the inputs' O(1) log features; scaling the
// gate's output lets Adam's ~lr-sized steps get there in hundreds of steps, not thousands.
constexpr double kPoolGateScale = 10.0;
constexpr double kMaxNodeLogCost = 12.0;   // node_cost exp: factors up to e^12 ~ 1.6e5
constexpr double kMinTotalWeight = 1e-20;  // a graph's total pool weight is >= e^-30 per node

// Per node: opcode embedding, F' standardized features, their F' logs, the log node count of its
// segment, and the one-hot slots of coded columns.
int64_t node_input_width(int64_t features, int64_t onehot) {
  return kOpcodeDim + 2 * features + 1 + onehot;
}

// x [..., in] as the input rows of a matrix product in dtype `low`: [M, in], and for bf16 on the
// CPU zero rows appended up to bucketed_rows(M) (model/precision.h), so that the products of
// differently sized batches share oneDNN's compiled kernels.
torch::Tensor product_rows(const torch::Tensor& x, torch::ScalarType low) {
  torch::Tensor rows = x.reshape({-1, x.size(-1)}).to(low);
  if (low != torch::kBFloat16 || !x.device().is_cpu()) return rows;
  const int64_t m = rows.size(0), padded = bucketed_rows(m);
  return padded == m ? rows : torch::constant_pad_nd(rows, {0, 0, 0, padded - m});
}

// Tile sizes span orders of magnitude: their signed logs.
torch::Tensor signed_log(const torch::Tensor& x) { return torch::sign(x) * torch::log1p(x.abs()); }

torch::Tensor to_device(std::vector<int64_t> values, torch::Device device) {
  const auto n = static_cast<int64_t>(values.size());
  return torch::from_blob(values.data(), {n}, torch::kInt64).clone().to(device);
}

torch::Tensor to_device(std::vector<double> values, torch::Device device, torch::Dtype dtype) {
  const auto n = static_cast<int64_t>(values.size());
  return torch::from_blob(values.data(), {n}, torch::kFloat64)
      .to(device, dtype, /*non_blocking=*/false, /*copy=*/true);
}

// PReLU with one slope per channel of the last dimension, for inputs of any rank.
torch::Tensor prelu_last(const torch::Tensor& x, const torch::Tensor& weight) {
  return prelu_channels(x, weight);  // model/activation.h: torch::prelu's backward is slow
}

// Lengths of consecutive ranges given by offsets [B + 1].
std::vector<int64_t> range_sizes(const std::vector<int64_t>& offsets) {
  std::vector<int64_t> sizes;
  for (size_t b = 0; b + 1 < offsets.size(); ++b) sizes.push_back(offsets[b + 1] - offsets[b]);
  return sizes;
}

// Mean + max pooling over contiguous node ranges, for C copies of the nodes side by side, and
// with pool weights w [N] a weighted sum and the range's total weight too. h: [C, N, H] ->
// [B, C, 2H or 3H + 1] with
// B = offsets.size() - 1. Ranges are taken with one split (its backward is one concatenation,
// where per-range slices would each zero a full-size gradient).
torch::Tensor pool_ranges(const torch::Tensor& h, const std::vector<int64_t>& offsets,
                          const torch::Tensor& w) {
  const std::vector<int64_t> sizes = range_sizes(offsets);
  const auto ranges = h.split_with_sizes(sizes, 1);
  std::vector<torch::Tensor> weights;
  if (w.defined()) weights = w.view({1, -1, 1}).split_with_sizes(sizes, 1);
  std::vector<torch::Tensor> out;
  for (size_t b = 0; b < ranges.size(); ++b) {
    std::vector<torch::Tensor> parts = {ranges[b].mean(1), ranges[b].amax(1)};  // [C, H] each
    if (w.defined()) {
      parts.push_back((ranges[b] * weights[b]).sum(1));
      parts.push_back(weights[b].sum(1).expand({h.size(0), 1}));
    }
    out.push_back(torch::cat(parts, -1));
  }
  return torch::stack(out);
}

// Rows of a per-node dropout mask [N, W] for the nodes `rows`, broadcast over configs:
// [n, 1, W] (undefined when there is no mask).
torch::Tensor rows_of(const torch::Tensor& mask, const torch::Tensor& rows) {
  return mask.defined() ? mask.index_select(0, rows).unsqueeze(1) : mask;
}

// Per segment, over its rows of R_L: the sum of the config effects d, the max of the states
// base + d and with size weights w the weighted sum of d, [K, H] each (undefined for a segment
// without rows). d [n_L, K, H], base [n_L, H] the rows' shared states, w [n_L] or undefined;
// offsets [B + 1]: each segment's rows.
struct SegmentPools {
  std::vector<torch::Tensor> sum, max, weighted;
};

SegmentPools segment_pools(const torch::Tensor& d, const torch::Tensor& base,
                           const torch::Tensor& w, const std::vector<int64_t>& offsets) {
  SegmentPools out;
  if (!torch::GradMode::is_enabled() && d.device().is_cpu() && d.scalar_type() == torch::kFloat) {
    const RowPools pools = pool_rows(d, base, w, offsets);  // inference: one pass over d
    out.sum = pools.sum.unbind(0);
    out.max = pools.max.unbind(0);
    if (w.defined()) out.weighted = pools.weighted.unbind(0);
    return out;
  }
  const std::vector<int64_t> sizes = range_sizes(offsets);
  const auto rows = d.split_with_sizes(sizes);
  const auto states = (base.unsqueeze(1) + d).split_with_sizes(sizes);
  std::vector<torch::Tensor> weighted;
  if (w.defined()) weighted = (d * w.view({-1, 1, 1})).split_with_sizes(sizes);
  for (size_t b = 0; b < sizes.size(); ++b) {
    const bool any = sizes[b] > 0;
    out.sum.push_back(any ? rows[b].sum(0) : torch::Tensor());
    out.max.push_back(any ? states[b].amax(0) : torch::Tensor());
    if (w.defined()) out.weighted.push_back(any ? weighted[b].sum(0) : torch::Tensor());
  }
  return out;
}

// A batch's edges on the host with every node's inverse in- and out-degree: what plans are built
// from.
struct HostEdges {
  torch::Tensor pairs;  // [2, E] int64 on the CPU
  const int64_t* from = nullptr;
  const int64_t* to = nullptr;
  int64_t count = 0, nodes = 0;
  std::vector<double> inv_deg_in, inv_deg_out;  // [N] 1 / max(1, degree)

  explicit HostEdges(const SegmentBatch& batch)
      : pairs(batch.edges.to(torch::kCPU).contiguous()),
        from(pairs.data_ptr<int64_t>()),
        to(from + pairs.size(1)),
        count(pairs.size(1)),
        nodes(batch.segment_offsets.back()),
        inv_deg_in(nodes, 0),
        inv_deg_out(nodes, 0) {
    for (int64_t i = 0; i < count; ++i) {
      inv_deg_out[from[i]] += 1;
      inv_deg_in[to[i]] += 1;
    }
    for (double& d : inv_deg_in) d = 1.0 / std::max(d, 1.0);
    for (double& d : inv_deg_out) d = 1.0 / std::max(d, 1.0);
  }
};

// Row of each node in the sorted node list `rows`, -1 for nodes not in it: [N].
std::vector<int64_t> row_positions(const std::vector<int64_t>& rows, int64_t nodes) {
  std::vector<int64_t> pos(nodes, -1);
  for (size_t i = 0; i < rows.size(); ++i) pos[rows[i]] = static_cast<int64_t>(i);
  return pos;
}

// R_l from R_{l-1} (given by its row positions): R_{l-1} and, with message passing, its in- and
// out-neighbours; sorted.
std::vector<int64_t> next_reach(const HostEdges& g, const std::vector<int64_t>& prev_pos,
                                bool message_passing) {
  std::vector<char> member(g.nodes, 0);
  for (int64_t v = 0; v < g.nodes; ++v) member[v] = prev_pos[v] >= 0;
  if (message_passing) {
    for (int64_t i = 0; i < g.count; ++i) {
      if (prev_pos[g.from[i]] >= 0) member[g.to[i]] = 1;
      if (prev_pos[g.to[i]] >= 0) member[g.from[i]] = 1;
    }
  }
  std::vector<int64_t> out;
  for (int64_t v = 0; v < g.nodes; ++v)
    if (member[v]) out.push_back(v);
  return out;
}

}  // namespace

// Which nodes can differ across configs at each depth, and the edges that carry the differences.
// R_0 = configurable nodes; R_l = R_{l-1} and its in- and out-neighbours (message passing only).
// Node lists are sorted batch-global ids, so the nodes of one segment form a contiguous range.
struct CostModelImpl::Plan {
  Edges edges;                       // the batch's edges and degrees
  torch::Tensor config_order;        // [M] config-node order sorted by node id
  std::vector<torch::Tensor> nodes;  // [L + 1]: R_l as [n_l] ids
  // Layer l (1-based index l - 1 here) moves per-config rows of R_{l-1} into rows of R_l:
  std::vector<torch::Tensor> self_pos;  // [n_{l-1}] row in R_l of each row of R_{l-1}
  // As sparse matrices: the shared rows of R_l ([n_l, N]), the self moves and the in- and
  // out-neighbour means over edges u->v with u (in) or v (out) in R_{l-1} ([n_l, n_{l-1}]).
  std::vector<SparseRows> delta_shared, delta_self, delta_in, delta_out;
  torch::Tensor shared_mask;          // [N, 1] bool: node in R_L
  std::vector<int64_t> last_offsets;  // [B + 1] range of each segment's rows in R_L

  Plan(const SegmentBatch& batch, int layers, bool message_passing)
      : device_(batch.node_feat.device()), dtype_(batch.node_feat.scalar_type()) {
    const HostEdges g(batch);
    set_edges(batch, g);
    std::vector<int64_t> reach = sorted_config_nodes(batch);  // R_0
    for (int l = 0; l < layers; ++l) reach = add_layer(g, reach, message_passing);
    set_readout(batch, reach);
  }

 private:
  void set_edges(const SegmentBatch& batch, const HostEdges& g) {
    edges.src = batch.edges[0];
    edges.dst = batch.edges[1];
    edges.inv_deg_in = to_device(g.inv_deg_in, device_, dtype_).unsqueeze(1);
    edges.inv_deg_out = to_device(g.inv_deg_out, device_, dtype_).unsqueeze(1);
    std::vector<int64_t> ids(g.nodes), from(g.from, g.from + g.count), to(g.to, g.to + g.count);
    std::iota(ids.begin(), ids.end(), 0);
    std::vector<double> w_in(g.count), w_out(g.count);
    for (int64_t i = 0; i < g.count; ++i) {
      w_in[i] = g.inv_deg_in[to[i]];
      w_out[i] = g.inv_deg_out[from[i]];
    }
    edges.self = SparseRows::gather(g.nodes, ids, device_);
    edges.in = SparseRows(g.nodes, g.nodes, to, from, w_in, device_);
    edges.out = SparseRows(g.nodes, g.nodes, from, to, w_out, device_);
  }

  // R_0, and config_order: the configurable nodes by node id (each listed once).
  std::vector<int64_t> sorted_config_nodes(const SegmentBatch& batch) {
    std::vector<int64_t> config_nodes;
    if (batch.config_nodes.defined()) {
      torch::Tensor c = batch.config_nodes.to(torch::kCPU).contiguous();
      config_nodes.assign(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
    }
    std::vector<int64_t> order(config_nodes.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](int64_t a, int64_t b) { return config_nodes[a] < config_nodes[b]; });
    std::vector<int64_t> sorted;
    for (int64_t i : order) {
      GST_CHECK(sorted.empty() || sorted.back() != config_nodes[i],
                "node {} is listed twice among the configurable nodes", config_nodes[i]);
      sorted.push_back(config_nodes[i]);
    }
    config_order = to_device(order, device_);
    nodes.push_back(to_device(sorted, device_));
    return sorted;
  }

  // The next layer: R_l from R_{l-1} = prev, and the moves of rows of R_{l-1} into rows of R_l
  // (self, and along the edges leaving or entering R_{l-1}). Returns R_l.
  std::vector<int64_t> add_layer(const HostEdges& g, const std::vector<int64_t>& prev,
                                 bool message_passing) {
    const std::vector<int64_t> prev_pos = row_positions(prev, g.nodes);
    std::vector<int64_t> cur = next_reach(g, prev_pos, message_passing);
    const std::vector<int64_t> cur_pos = row_positions(cur, g.nodes);
    std::vector<int64_t> self, prev_rows(prev.size());
    for (int64_t v : prev) self.push_back(cur_pos[v]);
    std::iota(prev_rows.begin(), prev_rows.end(), 0);
    std::vector<int64_t> i_from, i_to, o_from, o_to;
    std::vector<double> i_w, o_w;
    for (int64_t i = 0; message_passing && i < g.count; ++i) {
      const int64_t u = g.from[i], v = g.to[i];
      if (prev_pos[u] >= 0) {
        i_from.push_back(prev_pos[u]);
        i_to.push_back(cur_pos[v]);
        i_w.push_back(g.inv_deg_in[v]);
      }
      if (prev_pos[v] >= 0) {
        o_from.push_back(prev_pos[v]);
        o_to.push_back(cur_pos[u]);
        o_w.push_back(g.inv_deg_out[u]);
      }
    }
    self_pos.push_back(to_device(self, device_));
    const auto n_prev = static_cast<int64_t>(prev.size()), n_cur = static_cast<int64_t>(cur.size());
    delta_shared.push_back(SparseRows::gather(g.nodes, cur, device_));
    delta_self.push_back(
        SparseRows(n_cur, n_prev, self, prev_rows, std::vector<double>(prev.size(), 1.0), device_));
    delta_in.push_back(SparseRows(n_cur, n_prev, i_to, i_from, i_w, device_));
    delta_out.push_back(SparseRows(n_cur, n_prev, o_to, o_from, o_w, device_));
    nodes.push_back(to_device(cur, device_));
    return cur;
  }

  // shared_mask and last_offsets from R_L = last.
  void set_readout(const SegmentBatch& batch, const std::vector<int64_t>& last) {
    const int64_t n = batch.segment_offsets.back();
    std::vector<char> mask(n, 0);
    for (int64_t v : last) mask[v] = 1;
    shared_mask = torch::from_blob(mask.data(), {n, 1}, torch::kBool).clone().to(device_);
    for (int64_t offset : batch.segment_offsets)
      last_offsets.push_back(std::lower_bound(last.begin(), last.end(), offset) - last.begin());
  }

  torch::Device device_;
  torch::Dtype dtype_;
};

CostModelImpl::CostModelImpl(const ModelConfig& config, Task task, const ColumnStats& node_columns,
                             const ColumnStats& config_columns)
    : config_(config), task_(task) {
  const size_t config_dim = task == Task::Layout ? kLayoutConfigDim : kTileConfigDim;
  GST_CHECK(node_columns.columns() == kNodeFeatureDim && node_columns.std.size() == kNodeFeatureDim,
            "node column statistics need {} values, got {} (a store without train graphs?)",
            kNodeFeatureDim, node_columns.columns());
  GST_CHECK(config_columns.columns() == 0 || config_columns.columns() == config_dim,
            "config column statistics need {} values, got {}", config_dim,
            config_columns.columns());
  std::vector<int64_t> kept;
  std::vector<double> mean, inv_std;
  for (int i = 0; i < kNodeFeatureDim; ++i) {
    if (!(node_columns.std[i] > kConstantStd)) continue;  // constant column (or NaN std)
    kept.push_back(i);
    mean.push_back(node_columns.mean[i]);
    inv_std.push_back(1.0 / node_columns.std[i]);
  }
  if (config.categorical) {
    node_onehot_ = OneHotColumns(node_columns);
    if (config_columns.columns() > 0) config_onehot_ = OneHotColumns(config_columns);
  }
  if (config.config_match && task == Task::Layout && config_columns.columns() > 0)
    config_match_ = ConfigMatch(node_columns, config_columns);
  if (config.neighbour_match && task == Task::Layout && config_columns.columns() > 0)
    neighbour_match_ = NeighbourMatch(config_columns);
  if (config.dim_fit && task == Task::Layout && config_columns.columns() > 0)
    dim_fit_ = DimFit(node_columns, config_columns, config.kept_layout_fit);
  if (config.layout_agreement && task == Task::Layout && config_columns.columns() > 0)
    layout_agreement_ = LayoutAgreement(node_columns, config_columns);
  if (config.tile_fit && task == Task::Tile && configs_at_nodes() && config_columns.columns() > 0)
    tile_fit_ = TileFit(node_columns, config_columns);
  if (config.tile_align && task == Task::Tile && configs_at_nodes() && config_columns.columns() > 0)
    tile_align_ = TileAlign(node_columns, config_columns);
  if (config.column_pooling && config.size_pooling && configs_at_nodes())
    size_weights_ = SizeWeights(node_columns);
  if (config.operand_copies && config.message_passing && task == Task::Layout &&
      config_columns.columns() > 0 && size_weights_.width() > 0)
    operand_copy_ = OperandCopy(node_columns, config_columns);
  const auto features = static_cast<int64_t>(kept.size());
  kept_columns_ = to_device(kept, torch::kCPU);  // not a buffer: Module::to(dtype) would cast it
  feat_mean_ = register_buffer("feat_mean", to_device(mean, torch::kCPU, torch::kFloat32));
  feat_inv_std_ = register_buffer("feat_inv_std", to_device(inv_std, torch::kCPU, torch::kFloat32));

  const int64_t proj = config.projection;
  opcode_embedding_ =
      register_module("opcode_embedding", torch::nn::Embedding(kNumOpcodes, kOpcodeDim));
  input_node_ = register_module(
      "input_node", torch::nn::Linear(node_input_width(features, node_onehot_.width()), proj));
  if (configs_at_nodes()) {
    input_config_ = register_module(
        "input_config",
        torch::nn::Linear(torch::nn::LinearOptions(config_input_width(), proj).bias(false)));
  }
  input_prelu_ = register_parameter("input_prelu", torch::full({proj}, 0.25));
  for (int l = 0; l < config.layers; ++l) {
    const int64_t in = layer_width(l), out = config.hidden;
    const std::string name = "layer" + std::to_string(l);
    auto no_bias = torch::nn::LinearOptions(in, out).bias(false);
    layer_self_.push_back(register_module(name + "_self", torch::nn::Linear(in, out)));
    if (config.message_passing) {
      layer_in_.push_back(register_module(name + "_in", torch::nn::Linear(no_bias)));
      layer_out_.push_back(register_module(name + "_out", torch::nn::Linear(no_bias)));
    }
    if (config.norm == Norm::Layer) {
      layer_norm_.push_back(register_module(
          name + "_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({out}))));
    }
    layer_prelu_.push_back(register_parameter(name + "_prelu", torch::full({out}, 0.25)));
  }

  const int64_t emb = embedding_dim();
  if (config.size_pooling) {
    pool_gate_ = register_module(
        "pool_gate", torch::nn::Linear(node_input_width(features, node_onehot_.width()), 1));
    torch::NoGradGuard no_grad;  // weights 1 at the start: a plain sum
    pool_gate_->weight.zero_();
    pool_gate_->bias.zero_();
  }
  if (config.norm == Norm::Layer) {
    head_norm_ = register_module(
        "head_norm",
        torch::nn::LayerNorm(torch::nn::LayerNormOptions({2 * layer_width(config.layers)})));
  }
  const int64_t head_in = emb - column_pooling_width() +
                          (task == Task::Tile ? kTileConfigDim + config_onehot_.width() : 0);
  head_in_ = register_module("head_in", torch::nn::Linear(head_in, config.head_hidden));
  head_mid_ =
      register_module("head_mid", torch::nn::Linear(config.head_hidden, config.head_hidden));
  // No output bias: the ranking losses see only score differences within a graph, so its true
  // gradient is zero and Adam would turn float noise into +-lr steps (ranks would diverge).
  head_out_ = register_module(
      "head_out", torch::nn::Linear(torch::nn::LinearOptions(config.head_hidden, 1).bias(false)));
  if (config.size_pooling && configs_at_nodes()) {
    head_sum_ = register_module(
        "head_sum",
        torch::nn::Linear(torch::nn::LinearOptions(layer_width(config.layers), 1).bias(false)));
    torch::NoGradGuard no_grad;  // starts as the head alone
    head_sum_->weight.zero_();
  }
  if (size_weights_.width() > 0) {
    pool_cost_ = register_module(
        "pool_cost",
        torch::nn::Linear(torch::nn::LinearOptions(layer_width(config.layers), config.cost_channels)
                              .bias(false)));
    head_columns_ = register_module(
        "head_columns",
        torch::nn::Linear(
            torch::nn::LinearOptions(config.cost_channels * weight_columns(), 1).bias(false)));
    torch::NoGradGuard no_grad;  // pool_cost_ starts random, so the mix learns from step one
    head_columns_->weight.zero_();
    if (config.direct_costs) {
      pool_direct_ = register_module(
          "pool_direct",
          torch::nn::Linear(
              torch::nn::LinearOptions(config_input_width(), config.cost_channels).bias(false)));
      pool_direct_->weight.zero_();  // starts as the costs of the layers' states alone
    }
    if (operand_copy_.width() > 0) {
      pool_copy_ = register_module(
          "pool_copy",
          torch::nn::Linear(
              torch::nn::LinearOptions(operand_copy_.width(), config.cost_channels).bias(false)));
      pool_copy_->weight.zero_();  // starts without copy costs
    }
  }
  head_prelu_in_ = register_parameter("head_prelu_in", torch::full({config.head_hidden}, 0.25));
  head_prelu_mid_ = register_parameter("head_prelu_mid", torch::full({config.head_hidden}, 0.25));
}

bool CostModelImpl::configs_at_nodes() const {
  return task_ == Task::Layout || config_.tile_join == TileJoin::Early;
}

int64_t CostModelImpl::embedding_dim() const {
  const int64_t h = layer_width(config_.layers);
  return (config_.size_pooling ? 3 * h + 1 : 2 * h) + column_pooling_width();
}

int64_t CostModelImpl::column_pooling_width() const {
  return (config_.cost_channels + 1) * weight_columns();
}

// Costs sum over nodes weighted by tensor size, which spans orders of magnitude, while mean and
// max pooling of normalized node states cannot weigh one big tensor above many small ones. A
// learned log-weight a_i (log sizes are among the inputs) makes a sum size-aware; a_i is
// config-independent, so sharing across configs stays exact. Clamped against overflow. Layout
// sums the config effect (node states minus those with no config): a graph's configs differ by a
// small part of its total, which a sum of whole states would bury under the shared part.
torch::Tensor CostModelImpl::pool_weights(const torch::Tensor& x) {
  if (!pool_gate_) return {};
  torch::Tensor a = pool_gate_(x).squeeze(1) * kPoolGateScale;
  return torch::exp(a.clamp(-kMaxPoolLogWeight, kMaxPoolLogWeight));
}

// An operand relayout copies the producer's tensor, whose size is not among the node's columns.
torch::Tensor CostModelImpl::column_weights(const SegmentBatch& batch) const {
  if (size_weights_.width() == 0) return {};
  torch::Tensor own = size_weights_.encode(batch.node_feat);
  if (!weights_operands()) return own;
  torch::Tensor operands =
      torch::zeros_like(own).index_add_(0, batch.edges[1], own.index_select(0, batch.edges[0]));
  return torch::cat({own, operands}, 1);
}

bool CostModelImpl::weights_operands() const {
  return config_.operand_sizes && config_.message_passing;
}

int64_t CostModelImpl::weight_columns() const {
  return size_weights_.width() * (weights_operands() ? 2 : 1);
}

torch::Tensor CostModelImpl::node_costs(const torch::Tensor& effect, const torch::Tensor& direct) {
  torch::Tensor x = pool_cost_(effect);
  return cost_of(direct.defined() ? x + direct : x);
}

torch::Tensor CostModelImpl::cost_of(const torch::Tensor& x) const {
  if (config_.node_cost == NodeCost::Linear) return x;
  // Linear below 0, so a node pushed far negative keeps its gradient (e^x would flatten there).
  return torch::where(x > 0, torch::expm1(x.clamp_max(kMaxNodeLogCost)), x);
}

torch::Tensor CostModelImpl::copy_sums(const SegmentBatch& batch, const torch::Tensor& columns) {
  RECORD_FUNCTION("gst::copy_sums", std::vector<c10::IValue>());  // for profilers (benchmarks)
  if (!pool_copy_) return {};
  const OperandCopy::Edges copies = operand_copy_.encode(
      batch.config_feat, batch.node_feat, batch.config_nodes, batch.edges, batch.operand_index);
  torch::Tensor cost =
      cost_of(pool_copy_(copies.flags) * config_.cost_map_scale).transpose(0, 1);  // [P, K, C]
  torch::Tensor weights = columns.index_select(0, batch.edges[0].index_select(0, copies.rows));
  // Edges come segment after segment, so each segment's copies are one contiguous run.
  torch::Tensor segment =
      batch.node_segment.index_select(0, batch.edges[1].index_select(0, copies.rows));
  torch::Tensor counts = torch::bincount(segment, {}, batch.num_segments).to(torch::kCPU);
  return run_channel_sums(
      cost, weights, {counts.data_ptr<int64_t>(), counts.data_ptr<int64_t>() + counts.numel()});
}

torch::Tensor CostModelImpl::channel_sums(const torch::Tensor& costs,
                                          const torch::Tensor& columns) {
  const int64_t n = costs.size(0), k = costs.size(1);
  return torch::mm(costs.reshape({n, k * costs.size(2)}).t(), columns).view({k, -1});
}

torch::Tensor CostModelImpl::run_channel_sums(const torch::Tensor& costs,
                                              const torch::Tensor& columns,
                                              const std::vector<int64_t>& sizes) {
  const auto cost_runs = costs.split_with_sizes(sizes);
  const auto column_runs = columns.split_with_sizes(sizes);
  std::vector<torch::Tensor> sums;
  for (size_t b = 0; b < sizes.size(); ++b)
    sums.push_back(channel_sums(cost_runs[b], column_runs[b]));
  return torch::stack(sums);  // [B, K, C S]
}

torch::Tensor CostModelImpl::column_totals(const torch::Tensor& w,
                                           const std::vector<int64_t>& offsets) {
  std::vector<torch::Tensor> totals;
  for (const torch::Tensor& part : w.split_with_sizes(range_sizes(offsets)))
    totals.push_back(part.sum(0));
  return torch::stack(totals);
}

int64_t CostModelImpl::layer_width(int layer) const {
  return layer == 0 ? config_.projection : config_.hidden;
}

bool CostModelImpl::residual(int layer) const { return layer_width(layer) == config_.hidden; }

torch::Tensor CostModelImpl::node_inputs(const SegmentBatch& batch) {
  RECORD_FUNCTION("gst::node_inputs", std::vector<c10::IValue>());  // for profilers (benchmarks)
  torch::Tensor feat =
      batch.node_feat.index_select(1, kept_columns_.to(batch.node_feat.device()));  // [N, F']
  // Shapes and sizes span orders of magnitude and costs depend on their ratios (padding to tile
  // multiples), which standardized raw values squash; log1p(2^24) < 17, so x 1/8 keeps them O(1).
  torch::Tensor logs = signed_log(feat) * kLogScale;
  feat = ((feat - feat_mean_) * feat_inv_std_).clamp(-kStandardClip, kStandardClip);
  // Mean and max pooling cannot count nodes, yet costs that sum over nodes (a kernel's footprint
  // against on-chip memory, compute against per-tile overhead) depend on the count.
  torch::Tensor sizes = torch::tensor(batch.segment_offsets, feat.options().dtype(torch::kInt64));
  sizes = (sizes.slice(0, 1) - sizes.slice(0, 0, -1)).to(feat.dtype());
  torch::Tensor count = torch::log1p(sizes).index_select(0, batch.node_segment) * kLogScale;
  return torch::cat({opcode_embedding_(batch.opcode), feat, logs, count.unsqueeze(1),
                     node_onehot_.encode(batch.node_feat)},
                    1);
}

// Layout values are dimension indices: as one-hot slots (-1, absent, is its own slot), as
// equality with the node's own coded columns, as differences from configurable neighbours and as
// the sizes and padding of the dims they make minor, or raw without any of these. Tile sizes as at
// the head (signed logs and one-hot slots of the coded columns) and their fit to the node's sizes.
int64_t CostModelImpl::config_input_width() const {
  if (task_ == Task::Tile)
    return kTileConfigDim + config_onehot_.width() + tile_fit_.width() + tile_align_.width();
  const int64_t coded = layout_coded_width();
  return coded > 0 ? coded : kLayoutConfigDim;
}

int64_t CostModelImpl::layout_coded_width() const {
  return config_onehot_.width() + config_match_.width() + neighbour_match_.width() +
         dim_fit_.width() + layout_agreement_.width();
}

torch::Tensor CostModelImpl::config_inputs(const SegmentBatch& batch) const {
  RECORD_FUNCTION("gst::config_inputs", std::vector<c10::IValue>());  // for profilers (benchmarks)
  const torch::Tensor& config = batch.config_feat;
  torch::Tensor node_feat = batch.node_feat.index_select(0, batch.config_nodes);
  if (task_ == Task::Tile)
    return torch::cat({tile_inputs(config), tile_fit_.encode(config, node_feat),
                       tile_align_.encode(config, node_feat)},
                      2);
  if (layout_coded_width() == 0) return config;
  // The structure-blind baseline sees no neighbour's layout either.
  const torch::Tensor none = torch::zeros({2, 0}, batch.edges.options());
  const torch::Tensor& edges = config_.message_passing ? batch.edges : none;
  const torch::Tensor& config_edges = config_.message_passing ? batch.config_edges : none;
  return torch::cat(
      {config_onehot_.encode(config), config_match_.encode(config, node_feat),
       neighbour_match_.encode(config, config_edges), dim_fit_.encode(config, node_feat),
       layout_agreement_.encode(config, batch.node_feat, batch.config_nodes, edges)},
      2);
}

torch::Tensor CostModelImpl::tile_inputs(const torch::Tensor& config) const {
  return torch::cat({signed_log(config), config_onehot_.encode(config)}, -1);
}

torch::Tensor CostModelImpl::dropout_mask(int64_t rows, int64_t width,
                                          const torch::TensorOptions& options) {
  if (!is_training() || config_.dropout <= 0) return {};
  const double keep = 1 - config_.dropout;
  return torch::rand({rows, width}, options).lt(keep).to(options.dtype()).div_(keep);
}

torch::Tensor CostModelImpl::input_post(const torch::Tensor& z, const torch::Tensor& mask) {
  torch::Tensor x = prelu_last(z, input_prelu_);
  return mask.defined() ? x * mask : x;
}

torch::Tensor CostModelImpl::layer_post(int layer, const torch::Tensor& z,
                                        const torch::Tensor& mask) {
  torch::Tensor x =
      prelu_last(layer_norm_.empty() ? z : layer_norm_[layer](z), layer_prelu_[layer]);
  return mask.defined() ? x * mask : x;
}

torch::Tensor CostModelImpl::product(const torch::nn::Linear& m, const torch::Tensor& rows,
                                     const torch::Tensor& x, bool bias) const {
  const torch::ScalarType low = rows.scalar_type();
  torch::Tensor b = bias && m->bias.defined() ? m->bias.to(low) : torch::Tensor();
  std::vector<int64_t> shape = x.sizes().vec();
  shape.back() = m->weight.size(0);
  return torch::linear(rows, m->weight.to(low), b).narrow(0, 0, x.numel() / x.size(-1)).view(shape);
}

torch::Tensor CostModelImpl::linear_low(const torch::nn::Linear& m, const torch::Tensor& x,
                                        bool bias) const {
  return product(m, product_rows(x, matmul_dtype(precision_, x.scalar_type())), x, bias);
}

torch::Tensor CostModelImpl::linear_as(const torch::nn::Linear& m, const torch::Tensor& x) const {
  if (precision_ == Precision::Fp32) return torch::linear(x, m->weight, m->bias);
  return linear_low(m, x, true).to(x.scalar_type());
}

torch::Tensor CostModelImpl::layer_pre(int layer, const torch::Tensor& h, const Edges& edges) {
  if (config_.message_passing && edges.in.defined()) {  // one fused pass: self + in + out
    const torch::Tensor rows = product_rows(h, matmul_dtype(precision_, h.scalar_type()));
    return aggregate({{&edges.self, product(layer_self_[layer], rows, h, true)},
                      {&edges.in, product(layer_in_[layer], rows, h, false)},
                      {&edges.out, product(layer_out_[layer], rows, h, false)}},
                     h.scalar_type());  // [R, H]
  }
  torch::Tensor z = linear_as(layer_self_[layer], h);  // [R, H], bias included
  if (!config_.message_passing) return z;
  torch::Tensor in = torch::zeros_like(z).index_add_(
      0, edges.dst, linear_as(layer_in_[layer], h).index_select(0, edges.src));
  torch::Tensor out = torch::zeros_like(z).index_add_(
      0, edges.src, linear_as(layer_out_[layer], h).index_select(0, edges.dst));
  return torch::addcmul(torch::addcmul(z, in, edges.inv_deg_in), out, edges.inv_deg_out);
}

torch::Tensor CostModelImpl::layer_full(int layer, const torch::Tensor& h, const Edges& edges,
                                        const torch::Tensor& mask) {
  return layer_post(layer, layer_pre(layer, h, edges), mask);
}

// Exact sharing across configs. With h = S + D, S the states of the batch with all config
// features zero ([N, H], computed once) and D the per-config difference, non-zero only on R_l
// ([n_l, K, H]), a SAGE layer is linear before its normalization, so its pre-activation is
// z = z(S) + scatter(W D): the per-config matmuls run on the n_{l-1} rows of D only and their
// results are scattered into the rows of R_l along the edges leaving R_{l-1}. Pooling adds the
// shared nodes (outside R_L) once per segment. Dropout masks are drawn per node and shared by the
// K configs of a segment (the ranking loss compares configs under the same thinned network),
// which keeps the two paths equal in training mode as well.
torch::Tensor CostModelImpl::segment_embeddings(const SegmentBatch& batch) {
  GST_CHECK(task_ == Task::Layout || batch.config_feat.defined() == configs_at_nodes(),
            "tile batch {} config features, but model.tile_join is {}",
            batch.config_feat.defined() ? "carries" : "lacks",
            configs_at_nodes() ? "early" : "late");
  const Plan plan(batch, config_.layers, config_.message_passing);
  const int64_t n = batch.segment_offsets.back();
  torch::Tensor x = node_inputs(batch);
  torch::Tensor z = linear_as(input_node_, x);    // [N, P]
  torch::Tensor weight = pool_weights(x);         // [N] or undefined
  torch::Tensor columns = column_weights(batch);  // [N, S] or undefined
  torch::Tensor mask = dropout_mask(n, config_.projection, batch.node_feat.options());
  States states;
  states.s = input_post(z, mask);  // [N, P]
  if (plan.nodes[0].numel() == 0)
    return unconfigured_embeddings(batch, plan, states.s, weight, columns);
  torch::Tensor config =
      config_inputs(batch).index_select(1, plan.config_order).permute({1, 0, 2});  // [n_0, K, W]
  states.d = input_delta(plan, z, states.s, config, mask);
  for (int l = 0; l < config_.layers; ++l) states = layer_step(l, plan, states, batch.num_configs);
  return readout(batch, plan, states, weight, columns, direct_costs(plan, config),
                 copy_sums(batch, columns));
}

torch::Tensor CostModelImpl::unconfigured_embeddings(const SegmentBatch& batch, const Plan& plan,
                                                     torch::Tensor s, const torch::Tensor& weight,
                                                     const torch::Tensor& columns) {
  const int64_t n = batch.segment_offsets.back();
  for (int l = 0; l < config_.layers; ++l) {
    torch::Tensor post =
        layer_full(l, s, plan.edges, dropout_mask(n, config_.hidden, batch.node_feat.options()));
    s = residual(l) ? s + post : post;
  }
  torch::Tensor pooled = pool_ranges(s.unsqueeze(0), batch.segment_offsets, weight);
  if (configs_at_nodes() && weight.defined()) {  // no configurable node: no config effect
    const int64_t h = layer_width(config_.layers);
    pooled = torch::cat({pooled.narrow(2, 0, 2 * h), torch::zeros_like(pooled.narrow(2, 2 * h, h)),
                         pooled.narrow(2, 3 * h, 1)},
                        2);
  }
  if (columns.defined()) {
    torch::Tensor totals = column_totals(columns, batch.segment_offsets).unsqueeze(1);  // [B, 1, S]
    torch::Tensor costs =
        totals.new_zeros({totals.size(0), 1, config_.cost_channels * totals.size(2)});
    pooled = torch::cat({pooled, costs, totals}, 2);
  }
  return pooled.expand({-1, batch.num_configs, -1});
}

torch::Tensor CostModelImpl::input_delta(const Plan& plan, const torch::Tensor& z,
                                         const torch::Tensor& s, const torch::Tensor& config,
                                         const torch::Tensor& mask) {
  const torch::Tensor& first = plan.nodes[0];
  torch::Tensor zp = z.index_select(0, first).unsqueeze(1) + linear_as(input_config_, config);
  return input_post(zp, rows_of(mask, first)) - s.index_select(0, first).unsqueeze(1);
}

torch::Tensor CostModelImpl::direct_map(const torch::Tensor& config) {
  return pool_direct_(config) * config_.cost_map_scale;
}

torch::Tensor CostModelImpl::direct_costs(const Plan& plan, const torch::Tensor& config) {
  RECORD_FUNCTION("gst::direct_costs", std::vector<c10::IValue>());  // for profilers (benchmarks)
  if (!pool_direct_) return {};
  torch::Tensor rows = torch::arange(config.size(0), plan.nodes[0].options());
  for (const torch::Tensor& moves : plan.self_pos) rows = moves.index_select(0, rows);
  torch::Tensor direct = direct_map(config);  // [n_0, K, C]
  return direct.new_zeros({plan.nodes.back().size(0), direct.size(1), direct.size(2)})
      .index_copy(0, rows, direct);
}

// Per config: zp = zs + W_self d (own rows) + mean of W_in d / W_out d over changed neighbours.
std::vector<AggregationTerm> CostModelImpl::delta_terms(int layer, const Plan& plan,
                                                        const torch::Tensor& zs,
                                                        const torch::Tensor& x) const {
  const int l = layer;
  const torch::Tensor rows = product_rows(x, x.scalar_type());
  std::vector<AggregationTerm> terms = {
      {&plan.delta_self[l], product(layer_self_[l], rows, x, false)}, {&plan.delta_shared[l], zs}};
  if (config_.message_passing) {
    terms.push_back({&plan.delta_in[l], product(layer_in_[l], rows, x, false)});
    terms.push_back({&plan.delta_out[l], product(layer_out_[l], rows, x, false)});
  }
  return terms;
}

CostModelImpl::States CostModelImpl::layer_step(int layer, const Plan& plan, const States& in,
                                                int64_t k) {
  GST_CHECK(in.d.size(1) == k, "layer_step: {} configs in d, expected {}", in.d.size(1), k);
  const torch::Tensor& rows = plan.nodes[layer + 1];
  torch::Tensor mask = dropout_mask(in.s.size(0), config_.hidden, in.s.options());
  torch::Tensor zs = layer_pre(layer, in.s, plan.edges);  // [N, H], the shared pre-activation
  torch::Tensor post_s = layer_post(layer, zs, mask);
  States out;
  out.s = residual(layer) ? in.s + post_s : post_s;
  const torch::ScalarType low = matmul_dtype(precision_, in.d.scalar_type());
  // [n_{l-1}, K, H_in]: the inference pass of the layer before may have written it already.
  const torch::Tensor x = in.d_low.defined() ? in.d_low : in.d.to(low);
  if (torch::GradMode::is_enabled() || mask.defined() || !in.d.device().is_cpu() ||
      zs.scalar_type() != torch::kFloat) {
    out.d = aggregate(delta_terms(layer, plan, zs, x), zs.scalar_type());  // [n_l, K, H]
    out.d =
        layer_post(layer, out.d, rows_of(mask, rows)) - post_s.index_select(0, rows).unsqueeze(1);
    if (residual(layer)) out.d.index_add_(0, plan.self_pos[layer], in.d);
    return out;
  }
  // Inference: the layer's post fused onto the aggregation, one pass over the rows.
  RowsPost post;
  post.slope = layer_prelu_[layer];
  post.shared = post_s;
  post.rows = rows;
  if (!layer_norm_.empty()) {
    const torch::nn::LayerNorm& norm = layer_norm_[layer];
    post.norm_weight = norm->weight;
    post.norm_bias = norm->bias;
    post.eps = norm->options.eps();
  }
  if (residual(layer)) {
    post.residual = in.d;
    post.residual_pos = plan.self_pos[layer];
  }
  const bool next_low = layer + 1 < config_.layers && low == torch::kBFloat16;
  LayerRowsPost pass(post, k, next_low);
  aggregate_into(delta_terms(layer, plan, zs, x), pass);
  out.d = pass.out();
  out.d_low = pass.low();
  return out;
}

// Per segment: mean and max over its shared nodes (once) and its R_L rows (per config).
torch::Tensor CostModelImpl::readout(const SegmentBatch& batch, const Plan& plan,
                                     const States& states, const torch::Tensor& weight,
                                     const torch::Tensor& columns, const torch::Tensor& direct,
                                     const torch::Tensor& copies) {
  RECORD_FUNCTION("gst::readout", std::vector<c10::IValue>());  // for profilers (benchmarks)
  const torch::Tensor &s = states.s, &d = states.d;
  const int64_t k = batch.num_configs;
  const torch::Tensor& last = plan.nodes[config_.layers];
  torch::Tensor last_weight = weight.defined() ? weight.index_select(0, last) : weight;
  const SegmentPools pools =
      segment_pools(d, s.index_select(0, last), last_weight, plan.last_offsets);
  torch::Tensor shared_for_max =
      s.masked_fill(plan.shared_mask, -std::numeric_limits<float>::infinity());
  const std::vector<int64_t> sizes = range_sizes(batch.segment_offsets);
  const std::vector<int64_t> row_sizes = range_sizes(plan.last_offsets);
  const auto shared_nodes = s.split_with_sizes(sizes);
  const auto shared_for_max_nodes = shared_for_max.split_with_sizes(sizes);
  std::vector<torch::Tensor> total_weights;
  if (weight.defined()) total_weights = weight.split_with_sizes(sizes);
  // Column pooling: each row's costs [n_L, K, C] and its column weights [n_L, S], per segment.
  std::vector<torch::Tensor> row_costs, row_columns;
  torch::Tensor totals;  // [B, S]
  if (columns.defined()) {
    row_costs = node_costs(d, direct).split_with_sizes(row_sizes);
    row_columns = columns.index_select(0, last).split_with_sizes(row_sizes);
    totals = column_totals(columns, batch.segment_offsets);
  }
  std::vector<torch::Tensor> out;
  for (int64_t b = 0; b < batch.num_segments; ++b) {
    torch::Tensor shared_sum = shared_nodes[b].sum(0);           // [H]
    torch::Tensor shared_max = shared_for_max_nodes[b].amax(0);  // [H]
    if (row_sizes[b] == 0) {
      std::vector<torch::Tensor> parts = {shared_sum / sizes[b], shared_max};
      if (weight.defined())
        parts.insert(parts.end(), {torch::zeros_like(shared_sum), total_weights[b].sum().view(1)});
      if (columns.defined()) {
        parts.insert(parts.end(),
                     {totals[b].new_zeros({config_.cost_channels * totals.size(1)}), totals[b]});
      }
      out.push_back(torch::cat(parts).expand({k, -1}));
      continue;
    }
    torch::Tensor mean = (shared_sum + pools.sum[b]) / sizes[b];  // [K, H]
    torch::Tensor max = torch::maximum(pools.max[b], shared_max);
    std::vector<torch::Tensor> parts = {mean, max};
    if (weight.defined()) {
      parts.push_back(pools.weighted[b]);
      parts.push_back(total_weights[b].sum().expand({k, 1}));
    }
    if (columns.defined()) {
      torch::Tensor sums = channel_sums(row_costs[b], row_columns[b]);  // [K, C S]
      parts.push_back(copies.defined() ? sums + copies[b] : sums);
      parts.push_back(totals[b].expand({k, -1}));
    }
    out.push_back(torch::cat(parts, -1));  // [K, D]
  }
  return torch::stack(out);  // [B, K, D]
}

// Each segment replicated once per config: a K-fold disjoint union run without any sharing
// (dropout masks, drawn per node, are the same for the K copies as in the shared path).
torch::Tensor CostModelImpl::segment_embeddings_replicated(const SegmentBatch& batch) {
  const int64_t k = batch.num_configs;
  const int64_t n = batch.segment_offsets.back();
  const torch::TensorOptions options = batch.node_feat.options();
  torch::Tensor x = node_inputs(batch);    // [N, F]
  torch::Tensor weight = pool_weights(x);  // [N] or undefined
  // Size pooling of config effects needs a reference: copy 0 runs with no config.
  const int64_t ref = configs_at_nodes() && weight.defined() ? 1 : 0;
  const int64_t c = k + ref;  // copies of the segment batch
  torch::Tensor z, config;    // config: [K, N, W] inputs, zero at nodes without one
  if (configs_at_nodes()) {
    const int64_t f = x.size(1);
    const int64_t w = config_input_width();
    config = torch::zeros({k, n, w}, options);
    if (batch.config_nodes.numel() > 0) {
      config = config.index_copy(1, batch.config_nodes, config_inputs(batch));
    }
    torch::Tensor copies = torch::cat({torch::zeros({ref, n, w}, options), config});
    torch::Tensor inputs = torch::cat({x.unsqueeze(0).expand({c, n, f}), copies}, 2);
    torch::Tensor joined = torch::cat({input_node_->weight, input_config_->weight}, 1);
    z = torch::linear(inputs.reshape({c * n, f + w}), joined, input_node_->bias);
  } else {
    GST_CHECK(k == 1, "tile batches joined at the head have one config, got {}", k);
    z = input_node_(x);
  }
  auto copies = [&](const torch::Tensor& mask) {  // [N, W] -> [C N, W]
    return mask.defined() ? mask.repeat({c, 1}) : mask;
  };
  torch::Tensor h = input_post(z, copies(dropout_mask(n, config_.projection, options)));

  Edges edges;
  torch::Tensor shift = (torch::arange(c, batch.edges.options()) * n).unsqueeze(1);  // [C, 1]
  edges.src = (batch.edges[0].unsqueeze(0) + shift).reshape({-1});
  edges.dst = (batch.edges[1].unsqueeze(0) + shift).reshape({-1});
  torch::Tensor ones = torch::ones({edges.src.size(0)}, options);
  edges.inv_deg_in =
      1.0 / torch::zeros({c * n}, options).index_add(0, edges.dst, ones).clamp_min(1).unsqueeze(1);
  edges.inv_deg_out =
      1.0 / torch::zeros({c * n}, options).index_add(0, edges.src, ones).clamp_min(1).unsqueeze(1);
  for (int l = 0; l < config_.layers; ++l) {
    torch::Tensor post = layer_full(l, h, edges, copies(dropout_mask(n, config_.hidden, options)));
    h = residual(l) ? h + post : post;
  }
  if (ref == 0) return pool_ranges(h.view({c, n, -1}), batch.segment_offsets, weight);
  // The config effect per node first, then its size-weighted sum (as the shared path does).
  h = h.view({c, n, -1});
  torch::Tensor effect = h.narrow(0, ref, k) - h.narrow(0, 0, 1);  // [K, N, H]
  torch::Tensor pooled = pool_ranges(h.narrow(0, ref, k), batch.segment_offsets, {});
  torch::Tensor weighted = pool_ranges(effect, batch.segment_offsets, weight);
  const int64_t hw = layer_width(config_.layers);
  std::vector<torch::Tensor> parts = {pooled,
                                      weighted.narrow(2, 2 * hw, hw + 1)};  // [B, K, 3H + 1]
  torch::Tensor columns = column_weights(batch);
  if (columns.defined()) {
    torch::Tensor direct = pool_direct_ ? direct_map(config) : torch::Tensor();
    torch::Tensor cost = node_costs(effect, direct).transpose(0, 1);  // [N, K, C]
    torch::Tensor sums = run_channel_sums(cost, columns, range_sizes(batch.segment_offsets));
    torch::Tensor totals = column_totals(columns, batch.segment_offsets).unsqueeze(1);
    torch::Tensor copies = copy_sums(batch, columns);
    parts.push_back(copies.defined() ? sums + copies : sums);  // [B, K, C S]
    parts.push_back(totals.expand({-1, k, -1}));               // [B, K, S]
  }
  return torch::cat(parts, 2);
}

torch::Tensor CostModelImpl::head(const torch::Tensor& graph_emb,
                                  const torch::Tensor& tile_config) {
  GST_CHECK(graph_emb.dim() == 3 && graph_emb.size(2) == embedding_dim(),
            "head expects graph embeddings [G, K, {}]", embedding_dim());
  // Mean and max parts normalized; the size-weighted sums as signed logs (their scale follows the
  // graph's tensor sizes, and the log keeps the order of costs that they sum).
  const int64_t pooled = 2 * layer_width(config_.layers);
  torch::Tensor x = graph_emb.narrow(2, 0, pooled);
  if (head_norm_) x = head_norm_(x);
  torch::Tensor additive;  // [G, K] layout: the size-weighted mean of a linear cost per node
  if (config_.size_pooling) {
    torch::Tensor weighted = graph_emb.narrow(2, pooled, pooled / 2 + 1);  // sums, total weight
    x = torch::cat({x, signed_log(weighted) * kLogScale}, 2);
    if (head_sum_) {
      torch::Tensor total = graph_emb.narrow(2, pooled + pooled / 2, 1).clamp_min(kMinTotalWeight);
      additive = (head_sum_(graph_emb.narrow(2, pooled, pooled / 2)) / total).squeeze(2);
    }
    if (head_columns_) {
      const int64_t s = weight_columns(), cs = config_.cost_channels * s;
      const int64_t at = pooled + pooled / 2 + 1, g = graph_emb.size(0), k = graph_emb.size(1);
      torch::Tensor totals = graph_emb.narrow(2, at + cs, s).clamp_min(kMinTotalWeight);
      torch::Tensor means = graph_emb.narrow(2, at, cs).view({g, k, -1, s}) / totals.unsqueeze(2);
      additive = additive + head_columns_(means.view({g, k, cs})).squeeze(2);
    }
  }
  if (task_ == Task::Tile) {
    GST_CHECK(tile_config.defined() && tile_config.dim() == 3 &&
                  tile_config.size(0) == graph_emb.size(0) &&
                  tile_config.size(1) == graph_emb.size(1) && tile_config.size(2) == kTileConfigDim,
              "tile head expects tile_config [G, K, {}] matching graph_emb", kTileConfigDim);
    // The tile config is one vector per kernel: with tile_join late it joins here only, every
    // node state stays config-independent and the backbone runs once per kernel; with early it
    // also entered every node. Tile sizes as signed logs; coded columns (log2 sizes, ...) also as
    // one-hot slots, so the head can single out the exact sizes that fit a kernel.
    x = torch::cat({x, tile_inputs(tile_config)}, 2);
  }
  x = prelu_last(head_in_(x), head_prelu_in_);
  x = torch::dropout(x, config_.dropout, is_training());
  x = prelu_last(head_mid_(x), head_prelu_mid_);
  torch::Tensor score = head_out_(x).squeeze(2);  // [G, K]
  return additive.defined() ? score + additive : score;
}

std::vector<torch::Tensor> CostModelImpl::head_parameters() {
  std::vector<torch::Tensor> out;
  for (const auto& p : named_parameters()) {
    if (p.key().rfind("head_", 0) == 0) out.push_back(p.value());
  }
  return out;
}

std::vector<torch::Tensor> CostModelImpl::backbone_parameters() {
  std::vector<torch::Tensor> out;
  for (const auto& p : named_parameters()) {
    if (p.key().rfind("head_", 0) != 0) out.push_back(p.value());
  }
  return out;
}

}  // namespace gst
