#include "model/segment_batch.h"

#include <array>

#include "common/errors.h"

namespace gst {

namespace {

torch::Tensor int64_tensor(std::vector<int64_t>& values, std::vector<int64_t> shape) {
  return torch::from_blob(values.data(), shape, torch::kInt64).clone();
}

// Checks that segment `s` holds n nodes' worth of every array (and k configs for layout).
void check_segment(const Segment& seg, size_t s, bool layout, int64_t k) {
  const int64_t n = seg.num_nodes;
  const int64_t m = static_cast<int64_t>(seg.config_nodes.size());
  GST_CHECK(n > 0, "segment {} of the batch has no nodes", s);
  GST_CHECK(static_cast<int64_t>(seg.node_feat.size()) == n * kNodeFeatureDim,
            "segment {}: node_feat has {} values, expected {} x {}", s, seg.node_feat.size(), n,
            kNodeFeatureDim);
  GST_CHECK(static_cast<int64_t>(seg.node_opcode.size()) == n,
            "segment {}: node_opcode has {} values, expected {}", s, seg.node_opcode.size(), n);
  GST_CHECK(seg.edges.size() % 2 == 0, "segment {}: odd edge array length {}", s, seg.edges.size());
  if (layout) {
    GST_CHECK(static_cast<int64_t>(seg.config_feat.size()) == k * m * kLayoutConfigDim,
              "segment {}: config_feat has {} values, expected {} configs x {} nodes x {}", s,
              seg.config_feat.size(), k, m, kLayoutConfigDim);
  }
}

// Node features, opcodes, segment ids, edges and configurable node ids of the segments side by
// side, ids shifted to the batch (batch.segment_offsets must be set).
void join_nodes(const std::vector<const Segment*>& segments, bool layout, int64_t num_config_nodes,
                torch::Device device, SegmentBatch& batch) {
  const int64_t total = batch.segment_offsets.back();
  int64_t num_edges = 0;
  for (const Segment* seg : segments) num_edges += static_cast<int64_t>(seg->edges.size() / 2);
  std::vector<float> feat;
  feat.reserve(total * kNodeFeatureDim);
  std::vector<int64_t> opcode, node_segment, edges(2 * num_edges), operand(num_edges), config_nodes;
  std::array<std::vector<int64_t>, 2> config_edges;
  opcode.reserve(total);
  node_segment.reserve(total);
  config_nodes.reserve(num_config_nodes);
  int64_t e = 0;
  for (size_t s = 0; s < segments.size(); ++s) {
    const Segment& seg = *segments[s];
    const int64_t first = batch.segment_offsets[s];
    feat.insert(feat.end(), seg.node_feat.begin(), seg.node_feat.end());
    for (uint8_t op : seg.node_opcode) opcode.push_back(op);
    node_segment.insert(node_segment.end(), seg.num_nodes, static_cast<int64_t>(s));
    std::vector<int64_t> in_edges(seg.num_nodes, 0);
    for (size_t i = 0; i < seg.edges.size(); i += 2, ++e) {
      const int64_t a = seg.edges[i], b = seg.edges[i + 1];
      GST_CHECK(a >= 0 && a < seg.num_nodes && b >= 0 && b < seg.num_nodes,
                "segment {}: edge ({}, {}) outside its {} nodes", s, a, b, seg.num_nodes);
      edges[e] = first + a;
      edges[num_edges + e] = first + b;
      operand[e] = in_edges[b]++;
    }
    if (!layout) continue;
    std::vector<int64_t> position(seg.num_nodes, -1);  // node -> its slot in config_nodes
    for (int32_t c : seg.config_nodes) {
      GST_CHECK(c >= 0 && c < seg.num_nodes, "segment {}: config node {} outside its {} nodes", s,
                c, seg.num_nodes);
      position[c] = static_cast<int64_t>(config_nodes.size());
      config_nodes.push_back(first + c);
    }
    for (size_t i = 0; i < seg.edges.size(); i += 2) {
      const int64_t a = position[seg.edges[i]], b = position[seg.edges[i + 1]];
      if (a < 0 || b < 0) continue;
      config_edges[0].push_back(a);
      config_edges[1].push_back(b);
    }
  }
  batch.node_feat =
      torch::from_blob(feat.data(), {total, kNodeFeatureDim}, torch::kFloat32).clone().to(device);
  batch.opcode = int64_tensor(opcode, {total}).to(device);
  batch.edges = int64_tensor(edges, {2, num_edges}).to(device);
  batch.operand_index = int64_tensor(operand, {num_edges}).to(device);
  batch.node_segment = int64_tensor(node_segment, {total}).to(device);
  if (!layout) return;
  batch.config_nodes = int64_tensor(config_nodes, {num_config_nodes}).to(device);
  const auto pairs = static_cast<int64_t>(config_edges[0].size());
  config_edges[0].insert(config_edges[0].end(), config_edges[1].begin(), config_edges[1].end());
  batch.config_edges = int64_tensor(config_edges[0], {2, pairs}).to(device);
}

// config_feat: [K, M, 18], the segments' configurable nodes side by side for each config.
torch::Tensor join_config_features(const std::vector<const Segment*>& segments, int64_t k,
                                   int64_t num_config_nodes, torch::Device device) {
  std::vector<float> config_feat(k * num_config_nodes * kLayoutConfigDim);
  int64_t column = 0;
  for (const Segment* seg : segments) {
    const int64_t m = static_cast<int64_t>(seg->config_nodes.size());
    const int64_t row = m * kLayoutConfigDim;
    for (int64_t c = 0; c < k; ++c) {
      std::copy_n(seg->config_feat.data() + c * row, row,
                  config_feat.data() + (c * num_config_nodes + column) * kLayoutConfigDim);
    }
    column += m;
  }
  return torch::from_blob(config_feat.data(), {k, num_config_nodes, kLayoutConfigDim},
                          torch::kFloat32)
      .clone()
      .to(device);
}

// Tile configs at the nodes: every node configurable, its kernel's K configs as its features.
void join_tile_configs(const std::vector<const float*>& tile_feat, int64_t k, torch::Device device,
                       SegmentBatch& batch) {
  const int64_t n = batch.segment_offsets.back();
  std::vector<float> feat(k * n * kTileConfigDim);
  for (size_t s = 0; s < tile_feat.size(); ++s) {
    for (int64_t c = 0; c < k; ++c) {
      const float* row = tile_feat[s] + c * kTileConfigDim;
      for (int64_t v = batch.segment_offsets[s]; v < batch.segment_offsets[s + 1]; ++v)
        std::copy_n(row, kTileConfigDim, feat.data() + (c * n + v) * kTileConfigDim);
    }
  }
  batch.config_nodes = torch::arange(n, torch::kInt64).to(device);
  batch.config_feat =
      torch::from_blob(feat.data(), {k, n, kTileConfigDim}, torch::kFloat32).clone().to(device);
}

}  // namespace

std::vector<float> tile_config_rows(const GraphConfigs& graph,
                                    const std::vector<int64_t>& configs) {
  const auto c = static_cast<int64_t>(graph.tile_feat.size() / kTileConfigDim);
  std::vector<float> rows;
  rows.reserve(configs.size() * kTileConfigDim);
  for (int64_t cfg : configs) {
    GST_CHECK(cfg >= 0 && cfg < c, "tile config {} of a kernel with {} configs", cfg, c);
    rows.insert(rows.end(), graph.tile_feat.begin() + cfg * kTileConfigDim,
                graph.tile_feat.begin() + (cfg + 1) * kTileConfigDim);
  }
  return rows;
}

SegmentBatch make_segment_batch(const std::vector<const Segment*>& segments, Task task,
                                int64_t num_configs, torch::Device device,
                                const std::vector<const float*>& tile_feat) {
  GST_CHECK(!segments.empty(), "make_segment_batch needs at least one segment");
  const bool layout = task == Task::Layout;
  const bool tile_configs = !layout && !tile_feat.empty();
  GST_CHECK(!tile_configs || tile_feat.size() == segments.size(),
            "{} tile config pointers for {} segments", tile_feat.size(), segments.size());
  const int64_t k = layout || tile_configs ? num_configs : 1;
  GST_CHECK(k >= 1, "batches with configs need num_configs >= 1, got {}", num_configs);

  SegmentBatch batch;
  batch.num_segments = static_cast<int64_t>(segments.size());
  batch.num_configs = k;
  batch.segment_offsets.assign(1, 0);
  int64_t num_config_nodes = 0;
  for (size_t s = 0; s < segments.size(); ++s) {
    check_segment(*segments[s], s, layout, k);
    batch.segment_offsets.push_back(batch.segment_offsets.back() + segments[s]->num_nodes);
    num_config_nodes += layout ? static_cast<int64_t>(segments[s]->config_nodes.size()) : 0;
  }
  join_nodes(segments, layout, num_config_nodes, device, batch);
  if (layout) batch.config_feat = join_config_features(segments, k, num_config_nodes, device);
  if (tile_configs) join_tile_configs(tile_feat, k, device, batch);
  return batch;
}

}  // namespace gst
