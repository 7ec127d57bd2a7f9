// Fresh segment embeddings without gradient, batched to a node budget: what evaluation, the
// head fine-tuning stage and never-written history entries use.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "model/cost_model.h"
#include "store/segment_store.h"

namespace gst {

// One segment to embed (segment = -1: the whole graph as one segment).
struct SegmentRef {
  int64_t graph = 0;
  int64_t segment = 0;
};

class SegmentEmbedder {
 public:
  // max_batch_nodes bounds nodes x configs of one forward pass (a larger single segment still
  // runs alone).
  SegmentEmbedder(CostModel model, const SegmentStore& store, torch::Device device,
                  int64_t max_batch_nodes);

  // Embeddings of `refs`, all with the same configs (ignored when tile configs join at the head
  // only), in the model's current train/eval mode, without gradient. Returns [refs, K, D] (tile
  // joined at the head: K = 1) on the device.
  torch::Tensor embed(const std::vector<SegmentRef>& refs, const std::vector<int64_t>& configs);

  // Embeddings of every segment of `graph` (or the whole graph when whole_graph) combined into
  // the graph embedding: [K, D] (tile joined at the head: [1, D]).
  torch::Tensor graph_embedding(int64_t graph, const std::vector<int64_t>& configs,
                                bool whole_graph);

 private:
  int64_t nodes_of(const SegmentRef& ref) const;
  CostModel model_;
  const SegmentStore& store_;
  torch::Device device_;
  int64_t max_batch_nodes_;
};

// Combines segment embeddings [S, K, D] into the graph embedding [K, D].
torch::Tensor combine_segments(const torch::Tensor& segment_emb, Combine combine);

}  // namespace gst
