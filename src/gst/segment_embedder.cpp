#include "gst/segment_embedder.h"

#include "common/errors.h"
#include "model/segment_batch.h"

namespace gst {

SegmentEmbedder::SegmentEmbedder(CostModel model, const SegmentStore& store, torch::Device device,
                                 int64_t max_batch_nodes)
    : model_(std::move(model)), store_(store), device_(device), max_batch_nodes_(max_batch_nodes) {}

int64_t SegmentEmbedder::nodes_of(const SegmentRef& ref) const {
  const GraphEntry& g = store_.graphs().at(ref.graph);
  if (ref.segment < 0) return g.num_nodes;
  return g.segment_offsets.at(ref.segment + 1) - g.segment_offsets.at(ref.segment);
}

torch::Tensor SegmentEmbedder::embed(const std::vector<SegmentRef>& refs,
                                     const std::vector<int64_t>& configs) {
  torch::NoGradGuard no_grad;
  const Task task = model_->task();
  const bool per_config = model_->configs_at_nodes();
  const int64_t k = per_config ? static_cast<int64_t>(configs.size()) : 1;
  GST_CHECK(k > 0, "embedding segments with configs at the nodes needs at least one config");
  std::vector<torch::Tensor> parts;
  std::vector<Segment> loaded;
  std::vector<std::vector<float>> tile_rows;  // tile configs at the nodes: each segment's kernel
  std::vector<float> kernel_rows;             // of kernel_graph, read once for its segments
  int64_t kernel_graph = -1;
  int64_t batch_nodes = 0;
  auto flush = [&] {
    if (loaded.empty()) return;
    std::vector<const Segment*> ptrs;
    for (const auto& s : loaded) ptrs.push_back(&s);
    std::vector<const float*> tile_feat;
    for (const auto& rows : tile_rows) tile_feat.push_back(rows.data());
    parts.push_back(
        model_->segment_embeddings(make_segment_batch(ptrs, task, k, device_, tile_feat)));
    loaded.clear();
    tile_rows.clear();
    batch_nodes = 0;
  };
  for (const auto& ref : refs) {
    const int64_t cost = nodes_of(ref) * k;
    if (batch_nodes > 0 && batch_nodes + cost > max_batch_nodes_) flush();
    loaded.push_back(ref.segment < 0 ? store_.load_graph(ref.graph, configs)
                                     : store_.load_segment(ref.graph, ref.segment, configs));
    if (task == Task::Tile && per_config) {
      if (ref.graph != kernel_graph) {
        kernel_rows = tile_config_rows(store_.load_configs(ref.graph), configs);
        kernel_graph = ref.graph;
      }
      tile_rows.push_back(kernel_rows);
    }
    batch_nodes += cost;
  }
  flush();
  return torch::cat(parts, 0);  // [refs, K, D]
}

torch::Tensor SegmentEmbedder::graph_embedding(int64_t graph, const std::vector<int64_t>& configs,
                                               bool whole_graph) {
  std::vector<SegmentRef> refs;
  if (whole_graph) {
    refs.push_back({graph, -1});
  } else {
    const int64_t segments = store_.graphs().at(graph).num_segments();
    for (int64_t s = 0; s < segments; ++s) refs.push_back({graph, s});
  }
  // A whole graph is one segment: its embedding is the graph embedding under either combine.
  return combine_segments(embed(refs, configs), model_->config().combine);
}

torch::Tensor combine_segments(const torch::Tensor& segment_emb, Combine combine) {
  return combine == Combine::Mean ? segment_emb.mean(0) : segment_emb.sum(0);
}

}  // namespace gst
