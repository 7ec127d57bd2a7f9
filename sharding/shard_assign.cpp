#include "sharding/shard_assign.h"

#include <algorithm>
#include <functional>
#include <numeric>
#include <queue>
#include <utility>

#include "common/errors.h"

namespace gst {

std::vector<int> assign_shards(const std::vector<int64_t>& work, int shards) {
  GST_CHECK(shards > 0, "need at least one shard, got {}", shards);
  std::vector<int64_t> order(work.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return work[a] > work[b]; });
  // (load, shard) min-heap.
  using Load = std::pair<int64_t, int>;
  std::priority_queue<Load, std::vector<Load>, std::greater<Load>> lightest;
  for (int s = 0; s < shards; ++s) lightest.emplace(0, s);
  std::vector<int> shard_of(work.size());
  for (int64_t g : order) {
    auto [load, s] = lightest.top();
    lightest.pop();
    shard_of[g] = s;
    lightest.emplace(load + work[g], s);
  }
  return shard_of;
}

std::vector<int64_t> shard_work(const std::vector<int64_t>& work, const std::vector<int>& shard_of,
                                int shards) {
  std::vector<int64_t> total(shards, 0);
  for (size_t g = 0; g < work.size(); ++g) total[shard_of[g]] += work[g];
  return total;
}

}  // namespace gst
