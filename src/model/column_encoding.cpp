#include "model/column_encoding.h"

#include <ATen/record_function.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>

namespace gst {
namespace {

torch::Tensor int_tensor(const std::vector<int64_t>& v) { return torch::tensor(v, torch::kInt64); }

bool is_constant(const ColumnStats& stats, size_t c) { return !(stats.std[c] > 0); }

// Whole numbers >= 0 beyond one-hot range: sizes, not names.
std::vector<int64_t> size_columns(const ColumnStats& stats) {
  std::vector<int64_t> out;
  for (size_t c = 0; c < stats.columns(); ++c) {
    if (stats.integer[c] && !is_constant(stats, c) && stats.min[c] >= 0 &&
        stats.max[c] > OneHotColumns::kHighest)
      out.push_back(static_cast<int64_t>(c));
  }
  return out;
}

// Whole numbers in [-1, highest] spanning more than a flag's two values: dim indices (layouts).
std::vector<int64_t> dim_index_columns(const ColumnStats& stats, float highest) {
  std::vector<int64_t> out;
  for (size_t c = 0; c < stats.columns(); ++c) {
    if (stats.integer[c] && !is_constant(stats, c) && stats.min[c] >= -1 &&
        stats.max[c] <= highest && stats.max[c] - stats.min[c] >= 2)
      out.push_back(static_cast<int64_t>(c));
  }
  return out;
}

// Runs of at least two consecutive columns among `columns` (ascending): first column, length.
std::vector<std::pair<int64_t, int64_t>> consecutive_runs(const std::vector<int64_t>& columns) {
  std::vector<std::pair<int64_t, int64_t>> runs;
  for (size_t i = 0; i < columns.size();) {
    size_t j = i + 1;
    while (j < columns.size() && columns[j] == columns[j - 1] + 1) ++j;
    if (j - i >= 2) runs.push_back({columns[i], static_cast<int64_t>(j - i)});
    i = j;
  }
  return runs;
}

// Runs of consecutive columns, each cut to one layout block (a shape has at most 6 dims).
std::vector<std::pair<int64_t, int64_t>> block_runs(const std::vector<int64_t>& columns) {
  auto runs = consecutive_runs(columns);
  for (auto& run : runs) run.second = std::min<int64_t>(run.second, kLayoutBlock);
  return runs;
}

// The layout blocks (kLayoutBlock config columns each) with a non-constant column.
std::vector<int64_t> varying_blocks(const ColumnStats& config) {
  std::vector<int64_t> blocks;
  for (int64_t b = 0; (b + 1) * kLayoutBlock <= static_cast<int64_t>(config.columns()); ++b) {
    bool varies = false;
    for (int64_t s = b * kLayoutBlock; s < (b + 1) * kLayoutBlock; ++s)
      varies |= !is_constant(config, s);
    if (varies) blocks.push_back(b);
  }
  return blocks;
}

// The config columns of `blocks`, block after block.
torch::Tensor block_slots(const std::vector<int64_t>& blocks) {
  std::vector<int64_t> slots;
  for (int64_t b : blocks) {
    for (int64_t s = b * kLayoutBlock; s < (b + 1) * kLayoutBlock; ++s) slots.push_back(s);
  }
  return int_tensor(slots);
}

// Layouts a node holds in its features: runs of consecutive dim-index columns (whole numbers in
// [-1, the highest value of a layout config column]), at most a block long.
std::vector<std::pair<int64_t, int64_t>> held_layout_runs(const ColumnStats& node,
                                                          const ColumnStats& config) {
  float highest = 0;
  for (int64_t s = 0; s < static_cast<int64_t>(config.columns()) / kLayoutBlock * kLayoutBlock; ++s)
    highest = std::max(highest, config.max[s]);
  return block_runs(dim_index_columns(node, highest));
}

// Whether the encoders' CPU loops can read these features: float, on the CPU.
bool cpu_loop_applies(std::initializer_list<torch::Tensor> features) {
  return std::all_of(features.begin(), features.end(), [](const torch::Tensor& t) {
    return t.device().is_cpu() && t.scalar_type() == torch::kFloat;
  });
}

// Each of `nodes` nodes' position among the configurable ones ([M] ids), -1 for the others.
std::vector<int64_t> config_positions(const torch::Tensor& config_nodes, int64_t nodes) {
  const torch::Tensor ids = config_nodes.contiguous();
  const int64_t* id = ids.data_ptr<int64_t>();
  std::vector<int64_t> position(static_cast<size_t>(nodes), -1);
  for (int64_t m = 0; m < ids.numel(); ++m) position[id[m]] = m;
  return position;
}

}  // namespace

OneHotColumns::OneHotColumns(const ColumnStats& stats) {
  std::vector<int64_t> low, span, offset;
  for (size_t c = 0; c < stats.columns(); ++c) {
    if (!stats.integer[c] || is_constant(stats, c) || stats.min[c] < kLowest ||
        stats.max[c] > kHighest)
      continue;
    columns_.push_back(static_cast<int64_t>(c));
    low.push_back(static_cast<int64_t>(stats.min[c]));
    span.push_back(static_cast<int64_t>(stats.max[c] - stats.min[c]) + 1);
    offset.push_back(width_);
    width_ += span.back() + 1;
  }
  index_ = int_tensor(columns_);
  low_ = int_tensor(low);
  span_ = int_tensor(span);
  offset_ = int_tensor(offset);
}

torch::Tensor OneHotColumns::encode(const torch::Tensor& x) const {
  RECORD_FUNCTION("gst::OneHotColumns", std::vector<c10::IValue>());  // for profilers (benchmarks)
  std::vector<int64_t> shape = x.sizes().vec();
  shape.back() = width_;
  if (width_ == 0) return torch::zeros(shape, x.options());
  const torch::Device device = x.device();
  torch::Tensor v = x.index_select(-1, index_.to(device));  // [..., C']
  torch::Tensor rounded = v.round();
  torch::Tensor slot = rounded.to(torch::kInt64) - low_.to(device);
  torch::Tensor span = span_.to(device);
  torch::Tensor known = rounded.eq(v) & slot.ge(0) & slot.lt(span);
  slot = torch::where(known, slot, span) + offset_.to(device);
  return torch::zeros(shape, x.options()).scatter_(-1, slot, 1.0);
}

ConfigMatch::ConfigMatch(const ColumnStats& node, const ColumnStats& config) {
  if (node.columns() == 0 || config.columns() == 0) return;
  float highest = 0;
  for (size_t s = 0; s < config.columns(); ++s) {
    if (is_constant(config, s) || !config.integer[s]) continue;
    slots_.push_back(static_cast<int64_t>(s));
    highest = std::max(highest, config.max[s]);
  }
  node_columns_ = dim_index_columns(node, highest);
  if (node_columns_.empty()) slots_.clear();
  slot_index_ = int_tensor(slots_);
  node_index_ = int_tensor(node_columns_);
}

torch::Tensor ConfigMatch::encode(const torch::Tensor& config,
                                  const torch::Tensor& node_feat) const {
  RECORD_FUNCTION("gst::ConfigMatch", std::vector<c10::IValue>());  // for profilers (benchmarks)
  if (width() == 0 || !cpu_loop_applies({config, node_feat}))
    return encode_with_tensor_ops(config, node_feat);
  const int64_t k = config.size(0), m = config.size(1), c = config.size(2);
  const int64_t f = node_feat.size(1);
  const torch::Tensor rows = config.contiguous(), feat = node_feat.contiguous();
  torch::Tensor result = torch::zeros({k, m, width()}, config.options());
  const float* row = rows.data_ptr<float>();
  float* o = result.data_ptr<float>();
  for (int64_t i = 0; i < k * m; ++i, row += c) {
    const float* own = feat.data_ptr<float>() + (i % m) * f;
    for (int64_t slot : slots_) {
      const float value = row[slot];
      for (int64_t column : node_columns_)
        *o++ = static_cast<float>(value >= 0 && value == own[column]);
    }
  }
  return result;
}

torch::Tensor ConfigMatch::encode_with_tensor_ops(const torch::Tensor& config,
                                                  const torch::Tensor& node_feat) const {
  const int64_t k = config.size(0), m = config.size(1);
  if (width() == 0) return torch::zeros({k, m, 0}, config.options());
  const torch::Device device = config.device();
  torch::Tensor values = config.index_select(2, slot_index_.to(device));  // [K, M, L]
  torch::Tensor own = node_feat.index_select(1, node_index_.to(device));  // [M, Cm]
  torch::Tensor equal = values.unsqueeze(3).eq(own.unsqueeze(0).unsqueeze(2)) &
                        values.ge(0).unsqueeze(3);  // [K, M, L, Cm]
  return equal.to(config.scalar_type()).reshape({k, m, width()});
}

NeighbourMatch::NeighbourMatch(const ColumnStats& config)
    : blocks_(varying_blocks(config)), slot_index_(block_slots(blocks_)) {}

torch::Tensor NeighbourMatch::encode(const torch::Tensor& config,
                                     const torch::Tensor& edges) const {
  RECORD_FUNCTION("gst::NeighbourMatch", std::vector<c10::IValue>());  // for profilers (benchmarks)
  if (width() == 0 || edges.size(1) == 0 || !cpu_loop_applies({config}))
    return encode_with_tensor_ops(config, edges);
  const int64_t k = config.size(0), m = config.size(1), c = config.size(2);
  const auto nb = static_cast<int64_t>(blocks_.size());
  const int64_t half = width() / 2;  // counts over out-edges, then over in-edges
  const torch::Tensor rows = config.contiguous(), pairs = edges.contiguous();
  const int64_t p = pairs.size(1);
  const int64_t* from = pairs.data_ptr<int64_t>();
  const int64_t* to = from + p;
  torch::Tensor result = torch::zeros({k, m, width()}, config.options());
  float* o = result.data_ptr<float>();
  for (int64_t kk = 0; kk < k; ++kk) {
    const float* cfg = rows.data_ptr<float>() + kk * m * c;
    float* out = o + kk * m * width();
    for (int64_t e = 0; e < p; ++e) {
      float* at_from = out + from[e] * width();
      float* at_to = out + to[e] * width() + half;
      for (int64_t a = 0; a < nb; ++a) {
        const float* x = cfg + from[e] * c + blocks_[a] * kLayoutBlock;
        for (int64_t b = 0; b < nb; ++b) {
          const float* y = cfg + to[e] * c + blocks_[b] * kLayoutBlock;
          const auto differs = static_cast<float>(!std::equal(x, x + kLayoutBlock, y));
          const auto minor = static_cast<float>(x[0] != y[0]);
          at_from[a * nb + b] += differs;
          at_from[nb * nb + a * nb + b] += minor;
          at_to[a * nb + b] += differs;
          at_to[nb * nb + a * nb + b] += minor;
        }
      }
    }
  }
  return result.log1p_();  // 0 stays 0, and hundreds of configurable neighbours stay in range
}

torch::Tensor NeighbourMatch::encode_with_tensor_ops(const torch::Tensor& config,
                                                     const torch::Tensor& edges) const {
  const int64_t k = config.size(0), m = config.size(1), nb = static_cast<int64_t>(blocks_.size());
  if (width() == 0 || edges.size(1) == 0) return torch::zeros({k, m, width()}, config.options());
  torch::Tensor blocks =
      config.index_select(2, slot_index_.to(config.device())).reshape({k, m, nb, kLayoutBlock});
  torch::Tensor from = blocks.index_select(1, edges[0]).unsqueeze(3);  // [K, P, nb, 1, 6]
  torch::Tensor to = blocks.index_select(1, edges[1]).unsqueeze(2);    // [K, P, 1, nb, 6]
  torch::Tensor differs = from.ne(to);                                 // [K, P, nb, nb, 6]
  const int64_t p = edges.size(1);
  torch::Tensor per_edge = torch::cat({differs.any(4).reshape({k, p, nb * nb}),
                                       differs.select(4, 0).reshape({k, p, nb * nb})},
                                      2)
                               .to(config.scalar_type());  // [K, P, 2 nb^2]
  torch::Tensor counts = torch::zeros({k, m, width() / 2}, config.options());
  // log1p: 0 stays 0, and a node with hundreds of configurable neighbours stays in range.
  return torch::log1p(torch::cat(
      {counts.index_add(1, edges[0], per_edge), counts.index_add(1, edges[1], per_edge)}, 2));
}

LayoutAgreement::LayoutAgreement(const ColumnStats& node, const ColumnStats& config)
    : blocks_(varying_blocks(config)), runs_(held_layout_runs(node, config)) {
  if (runs_.empty()) blocks_.clear();
  slot_index_ = block_slots(blocks_);
}

torch::Tensor LayoutAgreement::flags(const torch::Tensor& blocks, const torch::Tensor& node_feat,
                                     const torch::Tensor& rows, const torch::Tensor& nodes) const {
  const int64_t k = blocks.size(0), p = rows.size(0);
  torch::Tensor config = blocks.index_select(1, rows);    // [K, P, nb, 6]
  torch::Tensor set = config.select(3, 0).ge(0);          // [K, P, nb]
  torch::Tensor feat = node_feat.index_select(0, nodes);  // [P, 140]
  std::vector<torch::Tensor> parts;
  for (const auto& [first, length] : runs_) {
    torch::Tensor held = feat.narrow(1, first, length);  // [P, len]
    torch::Tensor equal = config.narrow(3, 0, length).eq(held.unsqueeze(0).unsqueeze(2));
    parts.push_back(equal.all(3) & set);
    parts.push_back(equal.select(3, 0) & set);
  }
  return torch::stack(parts, 3).reshape({k, p, width() / 3}).to(blocks.scalar_type());
}

void LayoutAgreement::add_flags(const float* config_row, const float* feat, float* out) const {
  const auto runs = static_cast<int64_t>(runs_.size());
  for (size_t b = 0; b < blocks_.size(); ++b) {
    const float* block = config_row + blocks_[b] * kLayoutBlock;
    if (!(block[0] >= 0)) continue;  // absent: equals nothing
    float* flag = out + static_cast<int64_t>(b) * 2 * runs;
    for (const auto& [first, length] : runs_) {
      flag[0] += static_cast<float>(std::equal(block, block + length, feat + first));
      flag[1] += static_cast<float>(block[0] == feat[first]);
      flag += 2;
    }
  }
}

torch::Tensor LayoutAgreement::encode(const torch::Tensor& config, const torch::Tensor& node_feat,
                                      const torch::Tensor& config_nodes,
                                      const torch::Tensor& edges) const {
  RECORD_FUNCTION("gst::LayoutAgreement",
                  std::vector<c10::IValue>());  // for profilers (benchmarks)
  if (width() == 0 || !cpu_loop_applies({config, node_feat}))
    return encode_with_tensor_ops(config, node_feat, config_nodes, edges);
  const int64_t k = config.size(0), m = config.size(1), c = config.size(2);
  const int64_t f = node_feat.size(1), part = width() / 3;
  const std::vector<int64_t> position = config_positions(config_nodes, node_feat.size(0));
  // Per configurable node, its in-neighbours and its out-neighbours.
  std::vector<std::vector<int64_t>> in(m), out(m);
  const torch::Tensor pairs = edges.contiguous();
  const int64_t e = pairs.size(1);
  const int64_t* src = pairs.data_ptr<int64_t>();
  const int64_t* dst = src + e;
  for (int64_t i = 0; i < e; ++i) {
    if (position[dst[i]] >= 0) in[position[dst[i]]].push_back(src[i]);
    if (position[src[i]] >= 0) out[position[src[i]]].push_back(dst[i]);
  }
  const torch::Tensor rows = config.contiguous(), feat = node_feat.contiguous();
  const torch::Tensor ids = config_nodes.contiguous();
  torch::Tensor result = torch::zeros({k, m, width()}, config.options());
  const float* row = rows.data_ptr<float>();
  const float* ft = feat.data_ptr<float>();
  const int64_t* node = ids.data_ptr<int64_t>();
  float* o = result.data_ptr<float>();
  for (int64_t i = 0; i < k * m; ++i, row += c, o += width()) {
    add_flags(row, ft + node[i % m] * f, o);
    for (int64_t u : in[i % m]) add_flags(row, ft + u * f, o + part);
    for (int64_t v : out[i % m]) add_flags(row, ft + v * f, o + 2 * part);
    // log1p: 0 stays 0, and a node with hundreds of neighbours stays in range.
    for (int64_t j = part; j < 3 * part; ++j) o[j] = std::log1p(o[j]);
  }
  return result;
}

torch::Tensor LayoutAgreement::encode_with_tensor_ops(const torch::Tensor& config,
                                                      const torch::Tensor& node_feat,
                                                      const torch::Tensor& config_nodes,
                                                      const torch::Tensor& edges) const {
  const int64_t k = config.size(0), m = config.size(1), nb = static_cast<int64_t>(blocks_.size());
  if (width() == 0) return torch::zeros({k, m, 0}, config.options());
  const torch::TensorOptions ids = config_nodes.options();
  torch::Tensor blocks =
      config.index_select(2, slot_index_.to(config.device())).reshape({k, m, nb, kLayoutBlock});
  torch::Tensor position =
      torch::full({node_feat.size(0)}, -1, ids).index_copy(0, config_nodes, torch::arange(m, ids));
  std::vector<torch::Tensor> parts = {
      flags(blocks, node_feat, torch::arange(m, ids), config_nodes)};
  for (int64_t end : {1, 0}) {  // in-edges (the node is the target), then out-edges
    torch::Tensor at = position.index_select(0, edges[end]);
    torch::Tensor keep = at.ge(0).nonzero().squeeze(1);
    torch::Tensor rows = at.index_select(0, keep);
    torch::Tensor counts = torch::zeros({k, m, width() / 3}, config.options());
    parts.push_back(torch::log1p(counts.index_add(
        1, rows, flags(blocks, node_feat, rows, edges[1 - end].index_select(0, keep)))));
  }
  return torch::cat(parts, 2);
}

OperandCopy::OperandCopy(const ColumnStats& node, const ColumnStats& config)
    : blocks_(varying_blocks(config)), runs_(held_layout_runs(node, config)) {
  if (runs_.empty()) blocks_.clear();
  slot_index_ = block_slots(blocks_);
}

int64_t OperandCopy::width() const {
  const auto nb = static_cast<int64_t>(blocks_.size());
  return kPositions * nb * (1 + 2 * nb * static_cast<int64_t>(runs_.size()));
}

void OperandCopy::edge_flags(const float* asked, const float* written, const float* feat,
                             int64_t position, float* out) const {
  const auto nb = static_cast<int64_t>(blocks_.size());
  auto put = [&](int64_t flag) { out[flag * kPositions + position] = 1; };
  for (int64_t a = 0; a < nb; ++a) {
    const float* want = asked + blocks_[a] * kLayoutBlock;
    if (!(want[0] >= 0)) continue;  // an operand layout left unset asks nothing
    put(a);
    int64_t base = nb + a * nb;  // run r's equal flags at base + 2 r nb^2, minor-most ones + nb^2
    for (const auto& [first, length] : runs_) {
      for (int64_t w = 0; w < nb; ++w) {
        const float* block = written ? written + blocks_[w] * kLayoutBlock : nullptr;
        const float* writes = block && block[0] >= 0 ? block : feat + first;
        if (std::equal(want, want + length, writes)) put(base + w);
        if (want[0] == writes[0]) put(base + nb * nb + w);
      }
      base += 2 * nb * nb;
    }
  }
}

OperandCopy::Edges OperandCopy::encode(const torch::Tensor& config, const torch::Tensor& node_feat,
                                       const torch::Tensor& config_nodes,
                                       const torch::Tensor& edges,
                                       const torch::Tensor& operand) const {
  RECORD_FUNCTION("gst::OperandCopy", std::vector<c10::IValue>());  // for profilers (benchmarks)
  if (width() == 0 || !cpu_loop_applies({config, node_feat}))
    return encode_with_tensor_ops(config, node_feat, config_nodes, edges, operand);
  const int64_t k = config.size(0), m = config.size(1), c = config.size(2);
  const int64_t f = node_feat.size(1);
  const std::vector<int64_t> position = config_positions(config_nodes, node_feat.size(0));
  const torch::Tensor pairs = edges.contiguous(), ranks = operand.contiguous();
  const int64_t e = pairs.size(1);
  const int64_t* src = pairs.data_ptr<int64_t>();
  const int64_t* dst = src + e;
  const int64_t* rank = ranks.data_ptr<int64_t>();
  std::vector<int64_t> rows;  // edges into a configurable node
  for (int64_t i = 0; i < e; ++i) {
    if (position[dst[i]] >= 0) rows.push_back(i);
  }
  const auto p = static_cast<int64_t>(rows.size());
  Edges out;
  out.rows = torch::tensor(rows, config_nodes.options());
  out.flags = torch::zeros({k, p, width()}, config.options());
  const torch::Tensor values = config.contiguous(), feat = node_feat.contiguous();
  const float* cfg = values.data_ptr<float>();
  const float* ft = feat.data_ptr<float>();
  float* flags = out.flags.data_ptr<float>();
  for (int64_t kk = 0; kk < k; ++kk) {
    const float* configs = cfg + kk * m * c;
    for (int64_t i : rows) {
      const int64_t producer = position[src[i]];
      edge_flags(configs + position[dst[i]] * c, producer >= 0 ? configs + producer * c : nullptr,
                 ft + src[i] * f, std::min(rank[i], kPositions - 1), flags);
      flags += width();
    }
  }
  return out;
}

OperandCopy::Edges OperandCopy::encode_with_tensor_ops(const torch::Tensor& config,
                                                       const torch::Tensor& node_feat,
                                                       const torch::Tensor& config_nodes,
                                                       const torch::Tensor& edges,
                                                       const torch::Tensor& operand) const {
  const int64_t k = config.size(0), m = config.size(1), nb = static_cast<int64_t>(blocks_.size());
  const torch::TensorOptions ids = config_nodes.options();
  torch::Tensor position =
      torch::full({node_feat.size(0)}, -1, ids).index_copy(0, config_nodes, torch::arange(m, ids));
  torch::Tensor at = position.index_select(0, edges[1]);
  Edges out;
  out.rows = at.ge(0).nonzero().squeeze(1);  // edges into a configurable node
  const int64_t p = out.rows.size(0);
  if (width() == 0 || p == 0) {
    out.flags = torch::zeros({k, p, width()}, config.options());
    return out;
  }
  torch::Tensor producer = edges[0].index_select(0, out.rows);
  torch::Tensor blocks =
      config.index_select(2, slot_index_.to(config.device())).reshape({k, m, nb, kLayoutBlock});
  torch::Tensor asked = blocks.index_select(1, at.index_select(0, out.rows));  // [K, P, nb, 6]
  // The producer's config blocks; absent (-1) where it is not configurable (row m).
  torch::Tensor source = position.index_select(0, producer);
  torch::Tensor written =
      torch::cat({blocks, torch::full({k, 1, nb, kLayoutBlock}, -1, config.options())}, 1)
          .index_select(1, torch::where(source.ge(0), source, torch::full_like(source, m)));
  torch::Tensor asked_set = asked.select(3, 0).ge(0).unsqueeze(3);      // [K, P, nb, 1]
  torch::Tensor written_set = written.select(3, 0).ge(0).unsqueeze(3);  // [K, P, nb, 1]
  torch::Tensor feat = node_feat.index_select(0, producer);             // [P, 140]
  std::vector<torch::Tensor> parts = {asked_set.squeeze(3)};
  for (const auto& [first, length] : runs_) {
    // What the producer writes: its config's block a where set, else the layout it holds.
    torch::Tensor held = feat.narrow(1, first, length).unsqueeze(0).unsqueeze(2);  // [1, P, 1, len]
    torch::Tensor writes = torch::where(written_set, written.narrow(3, 0, length), held);
    torch::Tensor equal = asked.narrow(3, 0, length).unsqueeze(3).eq(writes.unsqueeze(2));
    parts.push_back((equal.all(4) & asked_set).reshape({k, p, nb * nb}));
    parts.push_back((equal.select(4, 0) & asked_set).reshape({k, p, nb * nb}));
  }
  torch::Tensor flags = torch::cat(parts, 2).to(config.scalar_type());  // [K, P, width / 3]
  torch::Tensor slot = operand.index_select(0, out.rows).clamp_max(kPositions - 1);
  torch::Tensor onehot = torch::one_hot(slot, kPositions).to(config.scalar_type());  // [P, 3]
  out.flags = (flags.unsqueeze(3) * onehot.unsqueeze(0).unsqueeze(2)).reshape({k, p, width()});
  return out;
}

DimFit::DimFit(const ColumnStats& node, const ColumnStats& config, bool kept_layouts)
    : runs_(consecutive_runs(size_columns(node))) {
  if (kept_layouts) held_ = held_layout_runs(node, config);
  for (int64_t b = 0; b + kLayoutBlock <= static_cast<int64_t>(config.columns());
       b += kLayoutBlock) {
    for (int64_t s : {b, b + 1}) {
      if (config.integer[s] && !is_constant(config, s) && config.min[s] >= -1 &&
          config.max[s] <= OneHotColumns::kHighest)
        slots_.push_back(s);
    }
  }
  if (runs_.empty()) slots_.clear();
  slot_index_ = int_tensor(slots_);
  // The column of each held run that a slot keeps: the run's minor-most or second-minor entry,
  // -1 where the run is too short.
  std::vector<int64_t> kept;
  for (const auto& [first, length] : held_) {
    for (int64_t s : slots_)
      kept.push_back(s % kLayoutBlock < length ? first + s % kLayoutBlock : -1);
  }
  kept_index_ = int_tensor(kept).view(
      {static_cast<int64_t>(held_.size()), static_cast<int64_t>(slots_.size())});
}

namespace {

// log(1 + x) / 8 of the dim each of `picked` [K, M, S] names in `dims` [M, length], and its log
// padding blow-ups to multiples of 128 and 8; 0 where the value is absent or past the run.
void add_dim_fit(const torch::Tensor& picked, const torch::Tensor& dims,
                 std::vector<torch::Tensor>& parts) {
  const int64_t length = dims.size(1);
  torch::Tensor inside = picked.ge(0) & picked.lt(length) & picked.round().eq(picked);
  torch::Tensor x =
      dims.unsqueeze(0)
          .expand({picked.size(0), dims.size(0), length})
          .gather(2, torch::where(inside, picked, torch::zeros_like(picked)).to(torch::kInt64));
  torch::Tensor present = inside & x.gt(0);
  torch::Tensor safe = x.clamp_min(1);
  for (torch::Tensor f : {torch::log1p(safe) / 8, torch::log(torch::ceil(safe / 128) * 128 / safe),
                          torch::log(torch::ceil(safe / 8) * 8 / safe)})
    parts.push_back(torch::where(present, f, torch::zeros_like(f)));
}

// add_dim_fit for one value: the 3 fits of the dim `value` names in the run `dims` into `out`,
// left 0 where the value is absent or past the run.
void dim_fit(float value, const float* dims, int64_t length, float* out) {
  if (!(value >= 0 && value < static_cast<float>(length) && std::round(value) == value)) return;
  const float x = dims[static_cast<int64_t>(value)];
  if (!(x > 0)) return;
  const float safe = std::max(x, 1.0f);
  out[0] = std::log1p(safe) / 8;
  out[1] = std::log(std::ceil(safe / 128) * 128 / safe);
  out[2] = std::log(std::ceil(safe / 8) * 8 / safe);
}

}  // namespace

torch::Tensor DimFit::encode(const torch::Tensor& config, const torch::Tensor& node_feat) const {
  RECORD_FUNCTION("gst::DimFit", std::vector<c10::IValue>());  // for profilers (benchmarks)
  if (width() == 0 || !cpu_loop_applies({config, node_feat}))
    return encode_with_tensor_ops(config, node_feat);
  const int64_t k = config.size(0), m = config.size(1), c = config.size(2);
  const int64_t f = node_feat.size(1), slots = static_cast<int64_t>(slots_.size());
  const torch::Tensor rows = config.contiguous(), feat = node_feat.contiguous();
  const int64_t* kept = kept_index_.data_ptr<int64_t>();  // [held runs, slots]
  torch::Tensor result = torch::zeros({k, m, width()}, config.options());
  const float* row = rows.data_ptr<float>();
  float* o = result.data_ptr<float>();
  for (int64_t i = 0; i < k * m; ++i, row += c) {
    const float* own = feat.data_ptr<float>() + (i % m) * f;
    for (int64_t s = 0; s < slots; ++s) {
      const float picked = row[slots_[s]];
      for (const auto& [first, length] : runs_) {
        dim_fit(picked, own + first, length, o);
        o += 3;
        for (size_t r = 0; r < held_.size(); ++r) {  // the held layout's value where absent
          const int64_t column = kept[static_cast<int64_t>(r) * slots + s];
          dim_fit(picked < 0 && column >= 0 ? own[column] : -1, own + first, length, o);
          o += 3;
        }
      }
    }
  }
  return result;
}

torch::Tensor DimFit::encode_with_tensor_ops(const torch::Tensor& config,
                                             const torch::Tensor& node_feat) const {
  const int64_t k = config.size(0), m = config.size(1);
  if (width() == 0) return torch::zeros({k, m, 0}, config.options());
  torch::Tensor picked = config.index_select(2, slot_index_.to(config.device()));  // [K, M, S]
  // Where a config leaves a slot absent the node keeps a layout it holds: each held run's value.
  std::vector<torch::Tensor> kept;
  for (int64_t r = 0; r < kept_index_.size(0); ++r) {
    torch::Tensor cols = kept_index_[r].to(config.device());
    torch::Tensor held = node_feat.index_select(1, cols.clamp_min(0));
    held = torch::where(cols.ge(0), held, torch::full_like(held, -1));  // [M, S]
    kept.push_back(torch::where(picked.lt(0), held.unsqueeze(0).expand_as(picked),
                                torch::full_like(picked, -1)));
  }
  std::vector<torch::Tensor> parts;
  for (const auto& [first, length] : runs_) {
    torch::Tensor dims = node_feat.narrow(1, first, length);
    add_dim_fit(picked, dims, parts);
    for (const torch::Tensor& values : kept) add_dim_fit(values, dims, parts);
  }
  return torch::stack(parts, 3).reshape({k, m, width()});
}

TileFit::TileFit(const ColumnStats& node, const ColumnStats& config)
    : sizes_(size_columns(config)), node_columns_(size_columns(node)) {
  size_index_ = int_tensor(sizes_);
  node_index_ = int_tensor(node_columns_);
}

torch::Tensor TileFit::encode(const torch::Tensor& config, const torch::Tensor& node_feat) const {
  const int64_t k = config.size(0), m = config.size(1);
  if (width() == 0) return torch::zeros({k, m, 0}, config.options());
  const torch::Device device = config.device();
  torch::Tensor t = config.index_select(2, size_index_.to(device)).unsqueeze(3);     // [K, M, T, 1]
  torch::Tensor x = node_feat.index_select(1, node_index_.to(device)).unsqueeze(1);  // [M, 1, X]
  torch::Tensor present = t.gt(0) & x.gt(0);
  torch::Tensor safe_t = t.clamp_min(1), safe_x = x.clamp_min(1);
  torch::Tensor padded = torch::ceil(safe_x / safe_t) * safe_t;
  torch::Tensor fit = torch::where(present, torch::log(padded / safe_x), torch::zeros_like(padded));
  return fit.reshape({k, m, width()});  // [K, M, T X]
}

TileAlign::TileAlign(const ColumnStats& node, const ColumnStats& config)
    : tiles_(block_runs(size_columns(config))),
      dims_(block_runs(size_columns(node))),
      held_(block_runs(dim_index_columns(node, kLayoutBlock - 1))) {}

torch::Tensor TileAlign::encode(const torch::Tensor& config, const torch::Tensor& node_feat) const {
  const int64_t k = config.size(0), m = config.size(1);
  if (width() == 0) return torch::zeros({k, m, 0}, config.options());
  std::vector<torch::Tensor> parts;
  for (const auto& [tile_first, tile_length] : tiles_) {
    for (const auto& [dim_first, dim_length] : dims_) {
      const int64_t p = std::min(tile_length, dim_length);
      torch::Tensor t = config.narrow(2, tile_first, p);                 // [K, M, P]
      torch::Tensor x = node_feat.narrow(1, dim_first, p).unsqueeze(0);  // [1, M, P]
      torch::Tensor present = t.gt(0) & x.gt(0);
      torch::Tensor safe_x = x.clamp_min(1);
      torch::Tensor extent = torch::where(present, torch::minimum(t, safe_x), torch::ones_like(t));
      torch::Tensor tiles =
          torch::where(present, torch::ceil(safe_x / t.clamp_min(1)), torch::ones_like(t));
      torch::Tensor log_extent = extent.log();
      parts.push_back(log_extent.sum(2) / 8);
      parts.push_back(tiles.log().sum(2) / 8);
      const torch::Tensor position = torch::arange(p, config.options()).view({1, 1, p});
      for (const auto& [held_first, held_length] : held_) {
        torch::Tensor align = torch::ones_like(extent);
        const std::pair<int64_t, double> vector_tile[] = {{0, 128.0}, {1, 8.0}};
        for (const auto& [entry, multiple] : vector_tile) {
          if (entry >= held_length) continue;
          torch::Tensor dim = node_feat.narrow(1, held_first + entry, 1).unsqueeze(0);  // [1,M,1]
          align = torch::where(position.eq(dim), torch::full_like(align, multiple), align);
        }
        torch::Tensor padded = torch::ceil(extent / align) * align;
        parts.push_back((padded.log() - log_extent).sum(2));
      }
    }
  }
  return torch::stack(parts, 2);
}

SizeWeights::SizeWeights(const ColumnStats& node) : columns_(size_columns(node)) {
  index_ = int_tensor(columns_);
}

torch::Tensor SizeWeights::encode(const torch::Tensor& node_feat) const {
  return node_feat.index_select(1, index_.to(node_feat.device())).clamp_min(0);
}

}  // namespace gst
