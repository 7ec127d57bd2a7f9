#include "model/cost_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "common/errors.h"

namespace gst {

namespace {

constexpr int64_t kOpcodeDim = 32;
constexpr float kConstantStd = 1e-6f;  // a feature column with a smaller train std is dropped

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
  return torch::prelu(x.reshape({-1, x.size(-1)}), weight).view(x.sizes());
}

// Mean + max pooling over contiguous node ranges, for C copies of the nodes side by side.
// h: [C, N, H] -> [B, C, 2H] with B = offsets.size() - 1.
torch::Tensor pool_ranges(const torch::Tensor& h, const std::vector<int64_t>& offsets) {
  std::vector<torch::Tensor> out;
  for (size_t s = 0; s + 1 < offsets.size(); ++s) {
    torch::Tensor nodes = h.narrow(1, offsets[s], offsets[s + 1] - offsets[s]);  // [C, n_s, H]
    out.push_back(torch::cat({nodes.mean(1), nodes.amax(1)}, -1));
  }
  return torch::stack(out);
}

}  // namespace

// Which nodes can differ across configs at each depth, and the edges that carry the differences.
// R_0 = configurable nodes; R_l = R_{l-1} and its in- and out-neighbours (message passing only).
// Node lists are sorted batch-global ids, so the nodes of one segment form a contiguous range.
struct CostModelImpl::Plan {
  torch::Tensor src, dst;                 // [E] batch edges
  torch::Tensor inv_deg_in, inv_deg_out;  // [N] 1 / max(1, degree)
  torch::Tensor config_order;             // [M] config-node order sorted by node id
  std::vector<torch::Tensor> nodes;       // [L + 1]: R_l as [n_l] ids
  // Layer l (1-based index l - 1 here) moves per-config rows of R_{l-1} into rows of R_l:
  std::vector<torch::Tensor> self_pos;  // [n_{l-1}] row in R_l of each row of R_{l-1}
  std::vector<torch::Tensor> in_from, in_to, in_weight;     // edges u->v, u in R_{l-1}
  std::vector<torch::Tensor> out_from, out_to, out_weight;  // edges u->v, v in R_{l-1}
  torch::Tensor shared_mask;                                // [N, 1] bool: node in R_L
  std::vector<int64_t> last_offsets;  // [B + 1] range of each segment's rows in R_L

  Plan(const SegmentBatch& batch, int layers, bool message_passing) {
    const torch::Device device = batch.node_feat.device();
    const torch::Dtype dtype = batch.node_feat.scalar_type();
    const int64_t n = batch.segment_offsets.back();
    torch::Tensor edges = batch.edges.to(torch::kCPU).contiguous();
    const int64_t e = edges.size(1);
    const int64_t* from = edges.data_ptr<int64_t>();
    const int64_t* to = from + e;
    src = batch.edges[0];
    dst = batch.edges[1];

    std::vector<double> in_deg(n, 0), out_deg(n, 0);
    for (int64_t i = 0; i < e; ++i) {
      out_deg[from[i]] += 1;
      in_deg[to[i]] += 1;
    }
    for (double& d : in_deg) d = 1.0 / std::max(d, 1.0);
    for (double& d : out_deg) d = 1.0 / std::max(d, 1.0);

    std::vector<int64_t> config_nodes;
    if (batch.config_nodes.defined()) {
      torch::Tensor c = batch.config_nodes.to(torch::kCPU).contiguous();
      config_nodes.assign(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
    }
    std::vector<int64_t> order(config_nodes.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](int64_t a, int64_t b) { return config_nodes[a] < config_nodes[b]; });
    std::vector<int64_t> prev_nodes;
    for (int64_t i : order) {
      GST_CHECK(prev_nodes.empty() || prev_nodes.back() != config_nodes[i],
                "node {} is listed twice among the configurable nodes", config_nodes[i]);
      prev_nodes.push_back(config_nodes[i]);
    }
    config_order = to_device(order, device);
    nodes.push_back(to_device(prev_nodes, device));

    std::vector<int64_t> prev_pos(n, -1);
    for (size_t i = 0; i < prev_nodes.size(); ++i) prev_pos[prev_nodes[i]] = i;
    for (int l = 0; l < layers; ++l) {
      std::vector<char> member(n, 0);
      for (int64_t v : prev_nodes) member[v] = 1;
      if (message_passing) {
        for (int64_t i = 0; i < e; ++i) {
          if (prev_pos[from[i]] >= 0) member[to[i]] = 1;
          if (prev_pos[to[i]] >= 0) member[from[i]] = 1;
        }
      }
      std::vector<int64_t> cur_nodes, cur_pos(n, -1);
      for (int64_t v = 0; v < n; ++v) {
        if (!member[v]) continue;
        cur_pos[v] = static_cast<int64_t>(cur_nodes.size());
        cur_nodes.push_back(v);
      }
      std::vector<int64_t> self;
      for (int64_t v : prev_nodes) self.push_back(cur_pos[v]);
      std::vector<int64_t> i_from, i_to, o_from, o_to;
      std::vector<double> i_w, o_w;
      if (message_passing) {
        for (int64_t i = 0; i < e; ++i) {
          if (prev_pos[from[i]] >= 0) {
            i_from.push_back(prev_pos[from[i]]);
            i_to.push_back(cur_pos[to[i]]);
            i_w.push_back(in_deg[to[i]]);
          }
          if (prev_pos[to[i]] >= 0) {
            o_from.push_back(prev_pos[to[i]]);
            o_to.push_back(cur_pos[from[i]]);
            o_w.push_back(out_deg[from[i]]);
          }
        }
      }
      self_pos.push_back(to_device(self, device));
      in_from.push_back(to_device(i_from, device));
      in_to.push_back(to_device(i_to, device));
      in_weight.push_back(to_device(i_w, device, dtype).view({-1, 1, 1}));
      out_from.push_back(to_device(o_from, device));
      out_to.push_back(to_device(o_to, device));
      out_weight.push_back(to_device(o_w, device, dtype).view({-1, 1, 1}));
      nodes.push_back(to_device(cur_nodes, device));
      prev_nodes = std::move(cur_nodes);
      prev_pos = std::move(cur_pos);
    }

    std::vector<char> mask(n, 0);
    for (int64_t v : prev_nodes) mask[v] = 1;
    shared_mask = torch::from_blob(mask.data(), {n, 1}, torch::kBool).clone().to(device);
    for (int64_t offset : batch.segment_offsets) {
      last_offsets.push_back(std::lower_bound(prev_nodes.begin(), prev_nodes.end(), offset) -
                             prev_nodes.begin());
    }
    inv_deg_in = to_device(in_deg, device, dtype);
    inv_deg_out = to_device(out_deg, device, dtype);
  }
};

CostModelImpl::CostModelImpl(const ModelConfig& config, Task task,
                             const std::vector<float>& feature_mean,
                             const std::vector<float>& feature_std)
    : config_(config), task_(task) {
  GST_CHECK(feature_mean.size() == kNodeFeatureDim && feature_std.size() == kNodeFeatureDim,
            "feature mean/std need {} values, got {} and {}", kNodeFeatureDim, feature_mean.size(),
            feature_std.size());
  std::vector<int64_t> kept;
  std::vector<double> mean, inv_std;
  for (int i = 0; i < kNodeFeatureDim; ++i) {
    if (!(feature_std[i] > kConstantStd)) continue;  // constant column (or NaN std)
    kept.push_back(i);
    mean.push_back(feature_mean[i]);
    inv_std.push_back(1.0 / feature_std[i]);
  }
  const auto features = static_cast<int64_t>(kept.size());
  kept_columns_ = to_device(kept, torch::kCPU);  // not a buffer: Module::to(dtype) would cast it
  feat_mean_ = register_buffer("feat_mean", to_device(mean, torch::kCPU, torch::kFloat32));
  feat_inv_std_ = register_buffer("feat_inv_std", to_device(inv_std, torch::kCPU, torch::kFloat32));

  const int64_t proj = config.projection;
  opcode_embedding_ =
      register_module("opcode_embedding", torch::nn::Embedding(kNumOpcodes, kOpcodeDim));
  input_node_ = register_module("input_node", torch::nn::Linear(kOpcodeDim + features, proj));
  if (task == Task::Layout) {
    input_config_ = register_module(
        "input_config",
        torch::nn::Linear(torch::nn::LinearOptions(kLayoutConfigDim, proj).bias(false)));
  }
  input_prelu_ = register_parameter("input_prelu", torch::full({proj}, 0.25));
  for (int l = 0; l < config.layers; ++l) {
    const int64_t in = layer_width(l), out = config.hidden;
    const int64_t terms = config.message_passing ? 3 : 1;
    const std::string name = "layer" + std::to_string(l);
    layer_linear_.push_back(
        register_module(name + "_linear",
                        torch::nn::Linear(torch::nn::LinearOptions(in, terms * out).bias(false))));
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    layer_bias_.push_back(
        register_parameter(name + "_bias", torch::empty({out}).uniform_(-bound, bound)));
    if (config.norm == "layer") {
      layer_norm_.push_back(register_module(
          name + "_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({out}))));
    }
    layer_prelu_.push_back(register_parameter(name + "_prelu", torch::full({out}, 0.25)));
  }

  const int64_t emb = embedding_dim();
  if (config.norm == "layer") {
    head_norm_ =
        register_module("head_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({emb})));
  }
  const int64_t head_in = emb + (task == Task::Tile ? kTileConfigDim : 0);
  head_in_ = register_module("head_in", torch::nn::Linear(head_in, config.head_hidden));
  head_mid_ =
      register_module("head_mid", torch::nn::Linear(config.head_hidden, config.head_hidden));
  head_out_ = register_module("head_out", torch::nn::Linear(config.head_hidden, 1));
  head_prelu_in_ = register_parameter("head_prelu_in", torch::full({config.head_hidden}, 0.25));
  head_prelu_mid_ = register_parameter("head_prelu_mid", torch::full({config.head_hidden}, 0.25));
}

int64_t CostModelImpl::embedding_dim() const { return 2 * layer_width(config_.layers); }

int64_t CostModelImpl::layer_width(int layer) const {
  return layer == 0 ? config_.projection : config_.hidden;
}

bool CostModelImpl::residual(int layer) const { return layer_width(layer) == config_.hidden; }

torch::Tensor CostModelImpl::node_inputs(const SegmentBatch& batch) {
  torch::Tensor feat =
      batch.node_feat.index_select(1, kept_columns_.to(batch.node_feat.device()));  // [N, F']
  feat = (feat - feat_mean_) * feat_inv_std_;
  return torch::cat({opcode_embedding_(batch.opcode), feat}, 1);  // [N, 32 + F']
}

torch::Tensor CostModelImpl::input_post(const torch::Tensor& z) {
  return torch::dropout(prelu_last(z, input_prelu_), config_.dropout, is_training());
}

torch::Tensor CostModelImpl::layer_post(int layer, const torch::Tensor& z) {
  torch::Tensor x = layer_norm_.empty() ? z : layer_norm_[layer](z);
  return torch::dropout(prelu_last(x, layer_prelu_[layer]), config_.dropout, is_training());
}

torch::Tensor CostModelImpl::aggregate(int layer, const torch::Tensor& y, const torch::Tensor& src,
                                       const torch::Tensor& dst, const torch::Tensor& inv_deg_in,
                                       const torch::Tensor& inv_deg_out) {
  if (!config_.message_passing) return y + layer_bias_[layer];
  const int64_t h = config_.hidden;
  torch::Tensor zeros = torch::zeros({y.size(0), h}, y.options());
  torch::Tensor in = zeros.index_add(0, dst, y.narrow(1, h, h).index_select(0, src));
  torch::Tensor out = zeros.index_add(0, src, y.narrow(1, 2 * h, h).index_select(0, dst));
  return y.narrow(1, 0, h) + in * inv_deg_in.unsqueeze(1) + out * inv_deg_out.unsqueeze(1) +
         layer_bias_[layer];
}

// Exact sharing across configs. With h = S + D, S the states of the batch with all config
// features zero ([N, H], computed once) and D the per-config difference, non-zero only on R_l
// ([n_l, K, H]), a SAGE layer is linear before its activation, so its pre-activation is
// z = z(S) + aggregate(linear(D)): the per-config matmul runs on the n_{l-1} rows of D only and
// the result is scattered into the rows of R_l along the edges leaving R_{l-1}. Pooling adds the
// shared nodes (outside R_L) once per segment.
torch::Tensor CostModelImpl::segment_embeddings(const SegmentBatch& batch) {
  const int64_t k = batch.num_configs;
  const int layers = config_.layers;
  Plan plan(batch, layers, config_.message_passing);

  torch::Tensor z = input_node_(node_inputs(batch));  // [N, P]
  torch::Tensor s = input_post(z);                    // [N, P]
  if (plan.nodes[0].numel() == 0) {
    for (int l = 0; l < layers; ++l) {
      torch::Tensor post = layer_post(l, aggregate(l, layer_linear_[l](s), plan.src, plan.dst,
                                                   plan.inv_deg_in, plan.inv_deg_out));
      s = residual(l) ? s + post : post;
    }
    return pool_ranges(s.unsqueeze(0), batch.segment_offsets).expand({-1, k, -1});
  }

  // config: [n_0, K, 18] in R_0 order.
  torch::Tensor config = batch.config_feat.index_select(1, plan.config_order).permute({1, 0, 2});
  torch::Tensor zp = z.index_select(0, plan.nodes[0]).unsqueeze(1) + input_config_(config);
  torch::Tensor d = input_post(zp) - s.index_select(0, plan.nodes[0]).unsqueeze(1);  // [n_0, K, P]

  for (int l = 0; l < layers; ++l) {
    const int64_t h = config_.hidden;
    torch::Tensor zs = aggregate(l, layer_linear_[l](s), plan.src, plan.dst, plan.inv_deg_in,
                                 plan.inv_deg_out);  // [N, H]
    torch::Tensor post_s = layer_post(l, zs);
    const torch::Tensor& rows = plan.nodes[l + 1];
    const int64_t n = rows.size(0);

    torch::Tensor t = layer_linear_[l](d);  // [n_{l-1}, K, terms * H]
    torch::Tensor zeros = torch::zeros({n, k, h}, t.options());
    torch::Tensor delta = zeros.index_add(0, plan.self_pos[l], t.narrow(2, 0, h));
    if (config_.message_passing) {
      delta = delta.index_add(
          0, plan.in_to[l], t.narrow(2, h, h).index_select(0, plan.in_from[l]) * plan.in_weight[l]);
      delta = delta.index_add(
          0, plan.out_to[l],
          t.narrow(2, 2 * h, h).index_select(0, plan.out_from[l]) * plan.out_weight[l]);
    }
    torch::Tensor post_p = layer_post(l, zs.index_select(0, rows).unsqueeze(1) + delta);
    torch::Tensor next_d = post_p - post_s.index_select(0, rows).unsqueeze(1);  // [n_l, K, H]
    if (residual(l)) {
      s = s + post_s;
      next_d = next_d.index_add(0, plan.self_pos[l], d);
    } else {
      s = post_s;
    }
    d = next_d;
  }

  // Readout: per segment, mean and max over its shared nodes (once) and its R_L rows (per config).
  const torch::Tensor& last = plan.nodes[layers];
  torch::Tensor per_config = s.index_select(0, last).unsqueeze(1) + d;  // [n_L, K, H]
  torch::Tensor shared_for_max =
      s.masked_fill(plan.shared_mask, -std::numeric_limits<float>::infinity());
  std::vector<torch::Tensor> out;
  for (int64_t b = 0; b < batch.num_segments; ++b) {
    const int64_t first = batch.segment_offsets[b];
    const int64_t count = batch.segment_offsets[b + 1] - first;
    const int64_t rows_first = plan.last_offsets[b];
    const int64_t rows = plan.last_offsets[b + 1] - rows_first;
    torch::Tensor shared_sum = s.narrow(0, first, count).sum(0);                // [H]
    torch::Tensor shared_max = shared_for_max.narrow(0, first, count).amax(0);  // [H]
    if (rows == 0) {
      out.push_back(torch::cat({shared_sum / count, shared_max}).expand({k, -1}));
      continue;
    }
    torch::Tensor mine = d.narrow(0, rows_first, rows);       // [r, K, H]
    torch::Tensor mean = (shared_sum + mine.sum(0)) / count;  // [K, H]
    torch::Tensor max = torch::maximum(per_config.narrow(0, rows_first, rows).amax(0), shared_max);
    out.push_back(torch::cat({mean, max}, -1));
  }
  return torch::stack(out);  // [B, K, 2H]
}

// Each segment replicated once per config: a K-fold disjoint union run without any sharing.
torch::Tensor CostModelImpl::segment_embeddings_replicated(const SegmentBatch& batch) {
  const int64_t k = batch.num_configs;
  const int64_t n = batch.segment_offsets.back();
  torch::Tensor x = node_inputs(batch);  // [N, F]
  torch::Tensor z;
  if (task_ == Task::Layout) {
    const int64_t f = x.size(1);
    torch::Tensor config = torch::zeros({k, n, kLayoutConfigDim}, x.options());
    if (batch.config_nodes.numel() > 0) {
      config = config.index_copy(1, batch.config_nodes, batch.config_feat);
    }
    torch::Tensor inputs = torch::cat({x.unsqueeze(0).expand({k, n, f}), config}, 2);
    torch::Tensor weight = torch::cat({input_node_->weight, input_config_->weight}, 1);
    z = torch::linear(inputs.reshape({k * n, f + kLayoutConfigDim}), weight, input_node_->bias);
  } else {
    GST_CHECK(k == 1, "tile batches have one config per segment, got {}", k);
    z = input_node_(x);
  }
  torch::Tensor h = input_post(z);  // [K N, P]

  torch::Tensor shift = (torch::arange(k, batch.edges.options()) * n).unsqueeze(1);  // [K, 1]
  torch::Tensor src = (batch.edges[0].unsqueeze(0) + shift).reshape({-1});
  torch::Tensor dst = (batch.edges[1].unsqueeze(0) + shift).reshape({-1});
  torch::Tensor ones = torch::ones({src.size(0)}, x.options());
  torch::Tensor inv_in =
      1.0 / torch::zeros({k * n}, x.options()).index_add(0, dst, ones).clamp_min(1);
  torch::Tensor inv_out =
      1.0 / torch::zeros({k * n}, x.options()).index_add(0, src, ones).clamp_min(1);
  for (int l = 0; l < config_.layers; ++l) {
    torch::Tensor post =
        layer_post(l, aggregate(l, layer_linear_[l](h), src, dst, inv_in, inv_out));
    h = residual(l) ? h + post : post;
  }
  return pool_ranges(h.view({k, n, -1}), batch.segment_offsets);  // [B, K, 2H]
}

torch::Tensor CostModelImpl::head(const torch::Tensor& graph_emb,
                                  const torch::Tensor& tile_config) {
  GST_CHECK(graph_emb.dim() == 3 && graph_emb.size(2) == embedding_dim(),
            "head expects graph embeddings [G, K, {}]", embedding_dim());
  torch::Tensor x = head_norm_ ? head_norm_(graph_emb) : graph_emb;
  if (task_ == Task::Tile) {
    GST_CHECK(tile_config.defined() && tile_config.dim() == 3 &&
                  tile_config.size(0) == graph_emb.size(0) &&
                  tile_config.size(1) == graph_emb.size(1) && tile_config.size(2) == kTileConfigDim,
              "tile head expects tile_config [G, K, {}] matching graph_emb", kTileConfigDim);
    // The tile config is one vector per kernel, not per node, so it joins at the head: every node
    // state stays config-independent and the backbone runs once per kernel, not once per config.
    // Tile sizes span orders of magnitude, hence the signed log.
    torch::Tensor t = torch::sign(tile_config) * torch::log1p(tile_config.abs());
    x = torch::cat({x, t}, 2);
  }
  x = prelu_last(head_in_(x), head_prelu_in_);
  x = torch::dropout(x, config_.dropout, is_training());
  x = prelu_last(head_mid_(x), head_prelu_mid_);
  return head_out_(x).squeeze(2);  // [G, K]
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
