// Scoring every config of a graph with fresh embeddings of all its segments, and the ranking
// metrics of a split (Kendall tau, OPA, top-1/5/10 slowdown) averaged over its graphs.
#pragma once

#include <cstdint>
#include <vector>

#include "gst/segment_embedder.h"
#include "model/cost_model.h"
#include "store/segment_store.h"

namespace gst {

class Communicator;

// Metric sums over graphs (so ranks can add theirs); mean() gives the per-graph average.
struct MetricSums {
  double graphs = 0, kendall_tau = 0, opa = 0, slowdown1 = 0, slowdown5 = 0, slowdown10 = 0;
  void add(const MetricSums& o);
  MetricSums mean() const;
  // Adds every rank's sums in place (collective).
  void all_reduce(Communicator& comm);
};

class Evaluator {
 public:
  // whole_graph: embed each graph as one segment (models trained in full_graph mode).
  // config_batch: configs scored per forward pass; max_batch_nodes: node x config budget.
  Evaluator(CostModel model, const SegmentStore& store, bool whole_graph, torch::Device device,
            int64_t config_batch, int64_t max_batch_nodes);

  // Scores of all C configs of `graph` ([C]; higher = predicted slower), model in eval mode.
  std::vector<double> scores(int64_t graph);
  // The runtimes the metrics compare against: runtime (layout) or runtime / normalizer (tile).
  std::vector<double> truth(int64_t graph) const;
  // Metrics of one labelled graph (graphs = 1), or all zero (graphs = 0) when it has no runtimes.
  MetricSums metrics(int64_t graph);
  // Sums over `graphs`.
  MetricSums evaluate(const std::vector<int64_t>& graphs);

 private:
  CostModel model_;
  const SegmentStore& store_;
  bool whole_graph_;
  torch::Device device_;
  int64_t config_batch_;
  SegmentEmbedder embedder_;
};

}  // namespace gst
