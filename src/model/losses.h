// Ranking losses within each graph's sampled configs (never across graphs).
#pragma once

#include <torch/torch.h>

#include "model/loss_kind.h"

namespace gst {

// scores, runtimes: [G, K]; mask: optional [G, K] bool, false for padded configs. Higher score =
// predicted slower. Both return a scalar averaged over graphs with at least one valid pair.

// Mean over pairs (i, j) of one graph with runtime_i > runtime_j of
// max(0, margin - (score_i - score_j)); pairs with equal runtimes are skipped.
torch::Tensor pairwise_hinge_loss(const torch::Tensor& scores, const torch::Tensor& runtimes,
                                  double margin = 0.1, const torch::Tensor& mask = {});

// ListMLE (Plackett-Luce likelihood of the true order, fastest first, on -score), divided by the
// number of valid configs of the graph. With top_weighted, position-aware ListMLE: the term of
// true position i (0 = fastest) weighs 1 / log2(2 + i), the DCG discount, and the sum is divided
// by the weights' sum. Unweighted, the order among slow configs counts as much as which config is
// fastest, while the top-k slowdowns a compiler pays are decided at the top.
torch::Tensor listmle_loss(const torch::Tensor& scores, const torch::Tensor& runtimes,
                           const torch::Tensor& mask = {}, bool top_weighted = false);

// Expected log slowdown of the config that softmax(-score) over a graph's valid configs picks:
// sum_i p_i log(r_i / r_min), r_min the fastest valid runtime. A smooth top-1 slowdown, the cost
// a compiler pays for the config ranked first: unlike a ranking loss it charges a wrong top pick
// by how much slower it runs, so near-ties among the fastest cost little and a blow-up much. In
// logs so that one config 1000x slower does not outweigh every other graph; a zero runtime counts
// as 1e-12 of the graph's slowest. Averaged over graphs with at least two valid configs.
torch::Tensor expected_slowdown_loss(const torch::Tensor& scores, const torch::Tensor& runtimes,
                                     const torch::Tensor& mask = {});

}  // namespace gst
