// Ranking metrics of predicted scores against true runtimes (higher = slower for both).
#pragma once

#include <vector>

namespace gst {

// Kendall's tau-b (ties in either list handled); 0 when fewer than 2 items or either list is
// constant. O(n log n).
double kendall_tau(const std::vector<double>& predicted, const std::vector<double>& truth);

// Ordered pair accuracy: among pairs with different truth, the share whose predictions are
// strictly ordered the same way (a predicted tie counts as wrong); 0 when no such pair.
double ordered_pair_accuracy(const std::vector<double>& predicted,
                             const std::vector<double>& truth);

// (min truth among the k lowest predicted) / (min truth) - 1. Ties in prediction at the cut are
// broken pessimistically (slower truth first). k is clamped to [1, n]; truth must be positive.
double top_k_slowdown(const std::vector<double>& predicted, const std::vector<double>& truth,
                      int k);

}  // namespace gst
