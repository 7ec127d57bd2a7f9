// One Graph Segment Training step: sample configs and segments, embed the trained segments with
// gradients, fill in the others from the history table with Stale Embedding Dropout, score, and
// compute the ranking loss; after backward, write the fresh embeddings back.
//
// Combination of a graph's segment embeddings (S segments, T trained, the rest stale):
//   sum:  g = sum_trained fresh + sum_stale m_s * stale_s
//   mean: the same divided by S
// with SED masks m_s = 0 (probability p) or 1/(1-p), one mask per (graph, segment) shared by all
// configs of the graph so that the configs being ranked see the same segments. E[g] equals the
// undropped combination. (The reference code instead rescales the sum by S / kept; the inverted
// dropout used here keeps the expectation exact, see tests/gst/sampling_test.cpp.)
// Never-written entries (or older than max_staleness): with missing=compute the segment is
// embedded once without gradient (and pushed with the step's updates, so it is computed once);
// with missing=drop it contributes nothing, like a dropped entry.
// segment_only: g = (S / T) sum_trained fresh for sum (the unbiased estimate of the sum from the
// trained segments), the mean of the trained ones for mean; no table use.
// full_graph: the whole graph is one segment run with gradients (store load_graph).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <random>
#include <unordered_map>
#include <vector>

#include "gst/gst_config.h"
#include "gst/history_table.h"
#include "gst/segment_embedder.h"
#include "model/cost_model.h"
#include "store/segment_store.h"

namespace gst {

// What one graph of a step trains on.
struct GraphSample {
  int64_t graph = 0;
  std::vector<int64_t> configs;         // [K] indices into the graph's configs
  std::vector<int64_t> train_segments;  // sorted; empty in full_graph mode
  // Set: this graph's SED masks come from a generator of their own seeded with it (so they do not
  // depend on which other graphs share the step); unset: from the step's generator.
  std::optional<uint64_t> sed_seed;
};

// The ranking loss of the run: hinge (pairwise, margin) or listmle.
struct RankingLoss {
  std::string kind = "hinge";
  double margin = 0.1;
  torch::Tensor operator()(const torch::Tensor& scores, const torch::Tensor& runtimes) const;
};

struct StepCounts {
  int64_t graphs = 0, graph_configs = 0;  // graphs and (graph, config) pairs scored
  int64_t trained_segments = 0;           // segments run with gradients
  int64_t stale_segments = 0;             // segments taken from the table (incl. computed)
  int64_t computed_missing = 0;           // missing entries embedded without gradient
  int64_t dropped = 0;                    // stale segments dropped by SED or missing=drop
};

class GstStep {
 public:
  // `table` may be null in segment_only and full_graph modes.
  GstStep(CostModel model, const SegmentStore& store, HistoryTable* table, GstConfig config,
          RankingLoss loss, torch::Device device, int64_t max_batch_nodes);

  // Configs and segments to train for each graph.
  std::vector<GraphSample> sample(const std::vector<int64_t>& graphs, std::mt19937_64& rng);

  // The main-phase loss (with gradients through the trained segments and the head). In gst mode
  // it pulls from the table (a collective call on every rank, also with no keys).
  torch::Tensor loss(const std::vector<GraphSample>& samples, int64_t step, std::mt19937_64& rng);
  // After backward (gst mode): pushes the fresh embeddings of this step (collective).
  void push_fresh(int64_t step);

  // Head fine-tuning (GST+EFD): all segments fresh, without gradient and with the backbone in
  // eval mode; gradients reach the head only.
  torch::Tensor head_loss(const std::vector<GraphSample>& samples);

  const StepCounts& counts() const { return counts_; }

 private:
  const GraphConfigs& configs_of(int64_t graph);
  // scores [G, K] -> loss against the samples' runtimes.
  torch::Tensor rank_loss(const torch::Tensor& scores, const std::vector<GraphSample>& samples);
  // [G, K, 24] raw tile config features of the samples (undefined for layout).
  torch::Tensor tile_config(const std::vector<GraphSample>& samples);
  torch::Tensor full_graph_embeddings(const std::vector<GraphSample>& samples);
  torch::Tensor segment_embeddings(const std::vector<GraphSample>& samples, int64_t step,
                                   std::mt19937_64& rng);

  CostModel model_;
  const SegmentStore& store_;
  HistoryTable* table_;
  GstConfig config_;
  RankingLoss loss_;
  torch::Device device_;
  SegmentEmbedder embedder_;
  std::unordered_map<int64_t, GraphConfigs> configs_cache_;
  StepCounts counts_;
  // Pending push after backward: keys and their rows [n, D] on the host.
  std::vector<HistoryKey> push_keys_;
  std::vector<torch::Tensor> push_rows_;
};

}  // namespace gst
