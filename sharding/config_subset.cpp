#include "sharding/config_subset.h"

#include <algorithm>
#include <numeric>

#include "common/errors.h"

namespace gst {
namespace {

// splitmix64: a small generator whose sequence is fixed by its definition, unlike the standard
// library's distributions, so a subset is the same with any compiler.
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) by rejection.
  uint64_t below(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = next();
    while (x >= limit);
    return x % n;
  }
};

uint64_t fnv1a(const std::string& text) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (unsigned char c : text) h = (h ^ c) * 0x100000001B3ULL;
  return h;
}

template <typename T>
void keep_rows(std::vector<T>* values, const std::vector<int64_t>& keep, size_t row) {
  if (values->empty()) return;
  std::vector<T> out(keep.size() * row);
  for (size_t k = 0; k < keep.size(); ++k)
    std::copy_n(values->data() + keep[k] * row, row, out.data() + k * row);
  values->swap(out);
}

}  // namespace

std::vector<int64_t> choose_configs(const std::vector<double>& runtime, int64_t max_configs,
                                    uint64_t seed, const std::string& graph_id) {
  const auto n = static_cast<int64_t>(runtime.size());
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  if (max_configs <= 0 || n <= max_configs) return order;
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return runtime[a] < runtime[b]; });
  const int64_t third = max_configs / 3;
  std::vector<int64_t> keep(order.begin(), order.begin() + third);
  keep.insert(keep.end(), order.end() - third, order.end());
  // A partial Fisher-Yates shuffle of the middle draws the rest.
  std::vector<int64_t> middle(order.begin() + third, order.end() - third);
  SplitMix64 rng{seed ^ fnv1a(graph_id)};
  const int64_t draw = max_configs - 2 * third;
  for (int64_t i = 0; i < draw; ++i) {
    auto j = i + static_cast<int64_t>(rng.below(static_cast<uint64_t>(middle.size() - i)));
    std::swap(middle[i], middle[j]);
    keep.push_back(middle[i]);
  }
  std::sort(keep.begin(), keep.end());
  return keep;
}

void keep_configs(Graph* g, const std::vector<int64_t>& keep) {
  const int64_t configs = g->num_configs();
  for (size_t k = 0; k < keep.size(); ++k)
    GST_CHECK(keep[k] >= 0 && keep[k] < configs && (k == 0 || keep[k] > keep[k - 1]),
              "graph {}: config subset is not ascending within 0..{}", g->id, configs - 1);
  GST_CHECK(g->runtime_normalizer.empty() ||
                static_cast<int64_t>(g->runtime_normalizer.size()) == configs,
            "graph {}: {} normalizers for {} configs", g->id, g->runtime_normalizer.size(),
            configs);
  if (static_cast<int64_t>(keep.size()) == configs) return;
  const size_t row = g->config_feat.size() / std::max<int64_t>(configs, 1);
  keep_rows(&g->config_feat, keep, row);
  keep_rows(&g->runtime, keep, 1);
  keep_rows(&g->runtime_normalizer, keep, 1);
}

}  // namespace gst
