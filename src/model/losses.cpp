#include "model/losses.h"

#include <limits>

#include "common/errors.h"

namespace gst {

namespace {

torch::Tensor valid_mask(const torch::Tensor& scores, const torch::Tensor& runtimes,
                         const torch::Tensor& mask) {
  GST_CHECK(scores.dim() == 2 && runtimes.sizes() == scores.sizes(),
            "ranking losses expect scores and runtimes of the same shape [G, K]");
  if (!mask.defined()) return torch::ones(scores.sizes(), scores.options().dtype(torch::kBool));
  GST_CHECK(mask.sizes() == scores.sizes() && mask.scalar_type() == torch::kBool,
            "ranking loss mask must be bool [G, K] like the scores");
  return mask;
}

// Mean of per-graph losses over the graphs where `counted` is true; 0 (still attached to the
// graph of `scores`) when there is none.
torch::Tensor mean_over_graphs(const torch::Tensor& per_graph, const torch::Tensor& counted,
                               const torch::Tensor& scores) {
  torch::Tensor graphs = counted.sum();
  if (graphs.item<int64_t>() == 0) return scores.sum() * 0;
  return per_graph.masked_fill(counted.logical_not(), 0).sum() / graphs;
}

// Logits with every padded entry set far below every valid one: its exp vanishes without the NaN
// gradients an -inf would bring into logcumsumexp or softmax, and a row with no valid entry stays
// finite.
torch::Tensor with_padding_far_below(const torch::Tensor& logits, const torch::Tensor& valid) {
  torch::Tensor floor = logits.detach().min() - 100;
  return torch::where(valid, logits, floor.expand_as(logits));
}

}  // namespace

torch::Tensor pairwise_hinge_loss(const torch::Tensor& scores, const torch::Tensor& runtimes,
                                  double margin, const torch::Tensor& mask) {
  torch::Tensor valid = valid_mask(scores, runtimes, mask);
  // pair (i, j): config i is slower than config j, both valid. [G, K, K]
  torch::Tensor pairs =
      (runtimes.unsqueeze(2) > runtimes.unsqueeze(1)) & valid.unsqueeze(2) & valid.unsqueeze(1);
  torch::Tensor gap = scores.unsqueeze(2) - scores.unsqueeze(1);  // score_i - score_j
  torch::Tensor hinge = torch::relu(margin - gap).masked_fill(pairs.logical_not(), 0);
  torch::Tensor count = pairs.sum({1, 2});  // [G]
  torch::Tensor per_graph = hinge.sum({1, 2}) / count.clamp_min(1);
  return mean_over_graphs(per_graph, count > 0, scores);
}

torch::Tensor listmle_loss(const torch::Tensor& scores, const torch::Tensor& runtimes,
                           const torch::Tensor& mask, bool top_weighted) {
  torch::Tensor valid = valid_mask(scores, runtimes, mask);
  // True order fastest first (stable among equal runtimes), padded configs last.
  torch::Tensor key =
      runtimes.to(torch::kFloat64)
          .masked_fill(valid.logical_not(), std::numeric_limits<double>::infinity());
  torch::Tensor order = std::get<1>(torch::sort(key, /*stable=*/true, /*dim=*/1, false));
  torch::Tensor utility = (-scores).gather(1, order);  // [G, K], fastest first
  torch::Tensor in_order = valid.gather(1, order);
  torch::Tensor filled = with_padding_far_below(utility, in_order);
  torch::Tensor tail_lse = filled.flip({1}).logcumsumexp(1).flip({1});  // log sum_{j >= i} e^u_j
  torch::Tensor terms = torch::where(in_order, tail_lse - utility, torch::zeros_like(utility));
  torch::Tensor weight = in_order.to(scores.scalar_type());  // padded configs come last
  if (top_weighted)
    weight = weight / torch::log2(torch::arange(2, scores.size(1) + 2, scores.options()));
  torch::Tensor count = valid.sum(1);  // [G]
  torch::Tensor per_graph = (terms * weight).sum(1) / weight.sum(1).clamp_min(1e-12);
  return mean_over_graphs(per_graph, count > 1, scores);
}

torch::Tensor expected_slowdown_loss(const torch::Tensor& scores, const torch::Tensor& runtimes,
                                     const torch::Tensor& mask) {
  torch::Tensor valid = valid_mask(scores, runtimes, mask);
  torch::Tensor invalid = valid.logical_not();
  torch::Tensor r = runtimes.to(torch::kFloat64);
  torch::Tensor tiny = (1e-12 * std::get<0>(r.masked_fill(invalid, 0).max(1, true)))
                           .clamp_min(std::numeric_limits<double>::min());  // all zero: 0, not NaN
  torch::Tensor fastest =
      std::get<0>(r.masked_fill(invalid, std::numeric_limits<double>::infinity()).min(1, true));
  torch::Tensor log_slowdown =
      torch::log((r + tiny) / (fastest + tiny)).masked_fill(invalid, 0).to(scores.scalar_type());
  torch::Tensor p = torch::softmax(with_padding_far_below(-scores, valid), 1);
  torch::Tensor per_graph = (p * log_slowdown).sum(1);
  return mean_over_graphs(per_graph, valid.sum(1) > 1, scores);
}

}  // namespace gst
