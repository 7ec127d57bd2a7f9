#include "train/graph_sampler.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "common/errors.h"
#include "gst/sampling.h"

namespace gst {

namespace {

// Longest-processing-time greedy: items by decreasing work to the least loaded rank.
std::vector<std::vector<int64_t>> balance(const std::vector<int64_t>& work, int ranks) {
  std::vector<int64_t> order(work.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return work[a] > work[b]; });
  std::vector<int64_t> load(ranks, 0);
  std::vector<std::vector<int64_t>> out(ranks);
  for (int64_t item : order) {
    const int r = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
    load[r] += std::max<int64_t>(1, work[item]);
    out[r].push_back(item);
  }
  return out;
}

bool balanced(const std::vector<std::vector<int64_t>>& items, const std::vector<int64_t>& work) {
  int64_t total = 0, worst = 0;
  for (const auto& list : items) {
    if (list.empty()) return false;
    int64_t load = 0;
    for (int64_t i : list) load += work[i];
    total += load;
    worst = std::max(worst, load);
  }
  const double mean = static_cast<double>(total) / items.size();
  return worst <= 1.25 * mean;
}

}  // namespace

std::vector<std::vector<int64_t>> assign_graphs_to_ranks(const std::vector<OwnedGraph>& graphs,
                                                         int ranks) {
  GST_CHECK(ranks > 0, "ranks must be positive");
  std::map<int, std::vector<int64_t>> by_shard;  // shard -> positions in `graphs`
  for (size_t i = 0; i < graphs.size(); ++i) by_shard[graphs[i].shard].push_back(i);
  std::vector<std::vector<int64_t>> shard_members;
  std::vector<int64_t> shard_work;
  for (auto& [shard, members] : by_shard) {
    int64_t w = 0;
    for (int64_t i : members) w += graphs[i].work;
    shard_members.push_back(members);
    shard_work.push_back(w);
  }

  std::vector<std::vector<int64_t>> per_rank(ranks);
  auto shard_split = balance(shard_work, ranks);
  if (balanced(shard_split, shard_work)) {
    for (int r = 0; r < ranks; ++r)
      for (int64_t s : shard_split[r])
        for (int64_t i : shard_members[s]) per_rank[r].push_back(graphs[i].graph);
  } else {
    std::vector<int64_t> graph_work;
    for (const auto& g : graphs) graph_work.push_back(g.work);
    auto graph_split = balance(graph_work, ranks);
    for (int r = 0; r < ranks; ++r)
      for (int64_t i : graph_split[r]) per_rank[r].push_back(graphs[i].graph);
  }
  for (auto& list : per_rank) std::sort(list.begin(), list.end());
  return per_rank;
}

GraphSampler::GraphSampler(std::vector<int64_t> owned, int64_t batch, uint64_t seed, int rank)
    : owned_(std::move(owned)), batch_(batch), seed_(seed), rank_(rank) {
  if (owned_.empty())
    input_error("rank {} owns no training graphs (too few graphs for the ranks)", rank);
  GST_CHECK(batch > 0, "batch must be positive");
}

std::vector<int64_t> GraphSampler::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order = owned_;
  auto rng = seeded_rng({seed_, static_cast<uint64_t>(rank_), static_cast<uint64_t>(epoch), 0x5A});
  std::shuffle(order.begin(), order.end(), rng);
  return order;
}

int64_t GraphSampler::epoch_of(int64_t step) const {
  return step * batch_ / static_cast<int64_t>(owned_.size());
}

std::vector<int64_t> GraphSampler::batch(int64_t step) const {
  const int64_t n = static_cast<int64_t>(owned_.size());
  std::vector<int64_t> out;
  out.reserve(batch_);
  int64_t pos = step * batch_;
  int64_t epoch = -1;
  std::vector<int64_t> order;
  for (int64_t i = 0; i < batch_; ++i, ++pos) {
    if (pos / n != epoch) {
      epoch = pos / n;
      order = epoch_order(epoch);
    }
    out.push_back(order[pos % n]);
  }
  return out;
}

}  // namespace gst
