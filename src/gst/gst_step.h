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
#include <utility>
#include <vector>

#include "common/fault.h"
#include "gst/gst_config.h"
#include "gst/history_table.h"
#include "gst/segment_embedder.h"
#include "model/cost_model.h"
#include "model/losses.h"
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

// The ranking loss of the run: hinge (pairwise, margin), listmle or listmle_top (position-aware),
// plus slowdown_weight x the expected top-1 log slowdown (model/losses.h) where it is above 0.
struct RankingLoss {
  LossKind kind = LossKind::Hinge;
  double margin = 0.1;
  double slowdown_weight = 0.0;
  torch::Tensor operator()(const torch::Tensor& scores, const torch::Tensor& runtimes) const;

 private:
  torch::Tensor ranking(const torch::Tensor& scores, const torch::Tensor& runtimes) const;
};

struct StepCounts {
  int64_t graphs = 0, graph_configs = 0;  // graphs and (graph, config) pairs scored
  int64_t trained_segments = 0;           // segments run with gradients
  int64_t stale_segments = 0;             // segments taken from the table (incl. computed)
  int64_t computed_missing = 0;           // missing entries embedded without gradient
  int64_t dropped = 0;                    // stale segments dropped by SED or missing=drop
};

// Every graph runs its own forward pass (and, in the trainer, its own backward), so a graph's
// loss and gradient depend only on the model, its own sample and the table entries pulled for it,
// never on which other graphs share the step or the rank: the same on every world size.
class GstStep {
 public:
  // `table` may be null in segment_only and full_graph modes.
  GstStep(CostModel model, const SegmentStore& store, HistoryTable* table, GstConfig config,
          RankingLoss loss, torch::Device device, int64_t max_batch_nodes);

  // Configs and segments to train for each graph.
  std::vector<GraphSample> sample(const std::vector<int64_t>& graphs, std::mt19937_64& rng);

  // The main phase, per step: prepare(samples) once, then graph_loss(i) for every graph (each
  // followed by its backward), then push_fresh().
  // prepare: in gst mode pulls the stale segments of every graph of the step from the table in one
  // call (collective on every rank, also with no graphs), draws the SED masks and computes the
  // missing entries.
  void prepare(const std::vector<GraphSample>& samples, int64_t step, std::mt19937_64& rng);
  // The loss of prepared graph i alone, with gradients through its trained segments and the head.
  torch::Tensor graph_loss(size_t i);
  // After the backward passes (gst mode): pushes the fresh embeddings of this step, graph by graph
  // in batch order (collective).
  void push_fresh(int64_t step);
  // prepare() and the mean of every graph's graph_loss() as one tensor (tests, benchmarks).
  torch::Tensor loss(const std::vector<GraphSample>& samples, int64_t step, std::mt19937_64& rng);

  // Head fine-tuning (GST+EFD): all segments fresh, without gradient and with the backbone in
  // eval mode; gradients reach the head only. One graph's loss, and the mean over graphs.
  torch::Tensor head_graph_loss(const GraphSample& sample);
  torch::Tensor head_loss(const std::vector<GraphSample>& samples);

  const StepCounts& counts() const { return counts_; }
  // Fault injection at the point store.read (before each segment read of a training step; count:
  // the reads of this rank so far), for the watchdog's tests and drills.
  void set_faults(FaultPlan faults, int rank) {
    faults_ = std::move(faults);
    rank_ = rank;
  }

 private:
  // Reads the segments a step trains on (or the whole graph: segment -1).
  Segment load_for_training(int64_t graph, int64_t segment, const std::vector<int64_t>& configs);
  const GraphConfigs& configs_of(int64_t graph);
  // scores [1, K] -> the loss of one graph against its sample's runtimes.
  torch::Tensor rank_loss(const torch::Tensor& scores, const GraphSample& sample);
  // [1, K, 24] raw tile config features of the sample (undefined for layout).
  torch::Tensor tile_config(const GraphSample& sample);
  // A batch of the sample's loaded segments, with the kernel's tile configs at its nodes when
  // the model takes them there.
  SegmentBatch training_batch(const GraphSample& sample,
                              const std::vector<const Segment*>& segments);
  // The graph embedding [1, K, D] of prepared graph i, with gradients.
  torch::Tensor full_graph_embedding(const GraphSample& sample);
  torch::Tensor segment_embedding(size_t i);
  void keys_of(const GraphSample& s, int64_t segment, std::vector<HistoryKey>& keys) const;

  CostModel model_;
  const SegmentStore& store_;
  HistoryTable* table_;
  GstConfig config_;
  RankingLoss loss_;
  torch::Device device_;
  SegmentEmbedder embedder_;
  std::unordered_map<int64_t, GraphConfigs> configs_cache_;
  StepCounts counts_;
  FaultPlan faults_;
  int rank_ = 0;
  int64_t reads_ = 0;
  // The prepared step: its samples and per graph the SED-weighted sum of the stale embeddings
  // [K', D] on the device (undefined when nothing is stale).
  std::vector<GraphSample> samples_;
  std::vector<torch::Tensor> stale_;
  // Pending push after backward, per graph: keys and their rows [n, D] on the host, of the
  // trained segments (fresh) and of the computed missing entries.
  std::vector<std::vector<HistoryKey>> fresh_keys_, missing_keys_;
  std::vector<torch::Tensor> fresh_rows_, missing_rows_;
};

}  // namespace gst
