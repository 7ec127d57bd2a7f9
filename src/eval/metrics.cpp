#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>

#include "common/errors.h"

namespace gst {

namespace {

void check_inputs(const std::vector<double>& predicted, const std::vector<double>& truth,
                  const char* metric) {
  GST_CHECK(predicted.size() == truth.size(), "{}: {} predictions for {} true runtimes", metric,
            predicted.size(), truth.size());
  for (size_t i = 0; i < truth.size(); ++i) {
    GST_CHECK(std::isfinite(predicted[i]) && std::isfinite(truth[i]),
              "{}: non-finite value at config {} (predicted {}, truth {})", metric, i, predicted[i],
              truth[i]);
  }
}

// Pair counts of two lists x, y (Knight's O(n log n) method).
struct PairCounts {
  int64_t total = 0;       // n (n - 1) / 2
  int64_t x_ties = 0;      // pairs with equal x
  int64_t y_ties = 0;      // pairs with equal y
  int64_t joint_ties = 0;  // pairs equal in both
  int64_t discordant = 0;  // pairs strictly ordered in opposite directions
  // Pairs strictly ordered the same way in both lists.
  int64_t concordant() const { return total - x_ties - y_ties + joint_ties - discordant; }
};

int64_t tied_pairs(const std::vector<double>& sorted_values) {
  int64_t pairs = 0, run = 1;
  for (size_t i = 1; i <= sorted_values.size(); ++i) {
    if (i < sorted_values.size() && sorted_values[i] == sorted_values[i - 1]) {
      ++run;
    } else {
      pairs += run * (run - 1) / 2;
      run = 1;
    }
  }
  return pairs;
}

// Sorts v ascending, returning the number of strict inversions (i < j, v[i] > v[j]).
int64_t sort_counting_inversions(std::vector<double>& v, std::vector<double>& scratch, size_t lo,
                                 size_t hi) {
  if (hi - lo < 2) return 0;
  const size_t mid = lo + (hi - lo) / 2;
  int64_t inversions =
      sort_counting_inversions(v, scratch, lo, mid) + sort_counting_inversions(v, scratch, mid, hi);
  size_t a = lo, b = mid, out = lo;
  while (a < mid && b < hi) {
    if (v[b] < v[a]) {
      inversions += static_cast<int64_t>(mid - a);
      scratch[out++] = v[b++];
    } else {
      scratch[out++] = v[a++];
    }
  }
  while (a < mid) scratch[out++] = v[a++];
  while (b < hi) scratch[out++] = v[b++];
  std::copy(scratch.begin() + lo, scratch.begin() + hi, v.begin() + lo);
  return inversions;
}

PairCounts count_pairs(const std::vector<double>& x, const std::vector<double>& y) {
  const size_t n = x.size();
  PairCounts c;
  c.total = static_cast<int64_t>(n) * (static_cast<int64_t>(n) - 1) / 2;
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return x[a] < x[b] || (x[a] == x[b] && y[a] < y[b]); });
  std::vector<double> xs(n), ys(n);
  for (size_t i = 0; i < n; ++i) {
    xs[i] = x[order[i]];
    ys[i] = y[order[i]];
  }
  c.x_ties = tied_pairs(xs);
  int64_t run = 1;
  for (size_t i = 1; i <= n; ++i) {
    if (i < n && xs[i] == xs[i - 1] && ys[i] == ys[i - 1]) {
      ++run;
    } else {
      c.joint_ties += run * (run - 1) / 2;
      run = 1;
    }
  }
  // Sorted by x (then y), every strict inversion of y is a discordant pair.
  std::vector<double> scratch(n);
  c.discordant = sort_counting_inversions(ys, scratch, 0, n);
  c.y_ties = tied_pairs(ys);  // ys is now sorted
  return c;
}

}  // namespace

double kendall_tau(const std::vector<double>& predicted, const std::vector<double>& truth) {
  check_inputs(predicted, truth, "kendall_tau");
  const PairCounts c = count_pairs(truth, predicted);
  const double untied_x = static_cast<double>(c.total - c.x_ties);
  const double untied_y = static_cast<double>(c.total - c.y_ties);
  if (untied_x == 0 || untied_y == 0) return 0;
  const double score = static_cast<double>(c.concordant() - c.discordant);
  return score / std::sqrt(untied_x * untied_y);
}

double ordered_pair_accuracy(const std::vector<double>& predicted,
                             const std::vector<double>& truth) {
  check_inputs(predicted, truth, "ordered_pair_accuracy");
  const PairCounts c = count_pairs(truth, predicted);
  const int64_t ordered = c.total - c.x_ties;
  return ordered == 0 ? 0 : static_cast<double>(c.concordant()) / static_cast<double>(ordered);
}

double top_k_slowdown(const std::vector<double>& predicted, const std::vector<double>& truth,
                      int k) {
  check_inputs(predicted, truth, "top_k_slowdown");
  GST_CHECK(!truth.empty(), "top_k_slowdown needs at least one config");
  const double best = *std::min_element(truth.begin(), truth.end());
  GST_CHECK(best > 0, "top_k_slowdown needs positive runtimes, the smallest is {}", best);
  std::vector<size_t> order(truth.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return predicted[a] < predicted[b] || (predicted[a] == predicted[b] && truth[a] > truth[b]);
  });
  const size_t top = std::clamp<size_t>(static_cast<size_t>(std::max(k, 1)), 1, truth.size());
  double found = truth[order[0]];
  for (size_t i = 1; i < top; ++i) found = std::min(found, truth[order[i]]);
  return found / best - 1;
}

}  // namespace gst
