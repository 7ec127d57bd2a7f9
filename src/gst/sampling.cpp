#include "gst/sampling.h"

#include <algorithm>
#include <numeric>

#include "common/errors.h"

namespace gst {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// k distinct elements of `pool` (k <= pool.size()), partially shuffled in place.
std::vector<int64_t> take_distinct(std::vector<int64_t>& pool, int64_t k, std::mt19937_64& rng) {
  for (int64_t i = 0; i < k; ++i) {
    std::uniform_int_distribution<int64_t> pick(i, static_cast<int64_t>(pool.size()) - 1);
    std::swap(pool[i], pool[pick(rng)]);
  }
  return std::vector<int64_t>(pool.begin(), pool.begin() + k);
}

}  // namespace

uint64_t mix_seed(std::initializer_list<uint64_t> parts) {
  uint64_t h = 0x6A09E667F3BCC909ull;
  for (uint64_t p : parts) h = splitmix64(h ^ splitmix64(p));
  return h;
}

std::mt19937_64 seeded_rng(std::initializer_list<uint64_t> parts) {
  return std::mt19937_64(mix_seed(parts));
}

std::vector<int64_t> sample_configs(int64_t num_configs, int64_t k, double bias,
                                    const std::vector<double>& runtime, std::mt19937_64& rng) {
  GST_CHECK(num_configs > 0 && k > 0, "sample_configs({}, {})", num_configs, k);
  std::vector<int64_t> all(num_configs);
  std::iota(all.begin(), all.end(), 0);
  if (num_configs <= k) {
    std::vector<int64_t> out = all;
    std::uniform_int_distribution<int64_t> pick(0, num_configs - 1);
    while (static_cast<int64_t>(out.size()) < k) out.push_back(pick(rng));
    return out;
  }
  const bool labelled = static_cast<int64_t>(runtime.size()) == num_configs &&
                        std::any_of(runtime.begin(), runtime.end(), [](double r) { return r > 0; });
  if (bias <= 0 || !labelled) return take_distinct(all, k, rng);

  std::stable_sort(all.begin(), all.end(),
                   [&](int64_t a, int64_t b) { return runtime[a] < runtime[b]; });
  const int64_t good_count = std::max<int64_t>(1, num_configs / 4);
  const int64_t from_good =
      std::min(good_count, static_cast<int64_t>(std::lround(bias * static_cast<double>(k))));
  std::vector<int64_t> good(all.begin(), all.begin() + good_count);
  std::vector<int64_t> rest(all.begin() + good_count, all.end());
  std::vector<int64_t> out = take_distinct(good, from_good, rng);
  // The remainder comes from the other configs, topped up from the unused good ones if short.
  if (static_cast<int64_t>(rest.size()) < k - from_good)
    rest.insert(rest.end(), good.begin() + from_good, good.end());
  auto others = take_distinct(rest, k - from_good, rng);
  out.insert(out.end(), others.begin(), others.end());
  return out;
}

std::vector<int64_t> sample_segments(int64_t num_segments, int64_t n, std::mt19937_64& rng) {
  GST_CHECK(num_segments > 0 && n > 0, "sample_segments({}, {})", num_segments, n);
  std::vector<int64_t> all(num_segments);
  std::iota(all.begin(), all.end(), 0);
  if (num_segments <= n) return all;
  auto out = take_distinct(all, n, rng);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<float> stale_dropout_scales(int64_t n, double p, std::mt19937_64& rng) {
  GST_CHECK(p >= 0 && p < 1, "stale embedding dropout p must be in [0, 1), got {}", p);
  std::vector<float> scales(n, 1.0f);
  if (p == 0) return scales;
  std::bernoulli_distribution drop(p);
  const float keep_scale = static_cast<float>(1.0 / (1.0 - p));
  for (auto& s : scales) s = drop(rng) ? 0.0f : keep_scale;
  return scales;
}

}  // namespace gst
