// The random choices of a GST step: which configs and segments of a graph to train, and which
// stale embeddings Stale Embedding Dropout removes. Deterministic for a given generator state.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace gst {

// A generator seeded from several integers (e.g. seed, rank, step) through splitmix64, so
// nearby seeds give unrelated streams.
std::mt19937_64 seeded_rng(std::initializer_list<uint64_t> parts);
uint64_t mix_seed(std::initializer_list<uint64_t> parts);

// k config indices of 0..C-1. Distinct when C >= k; when C < k every config appears once and the
// rest are drawn with replacement. bias in [0, 1]: that share of the k is drawn from the best
// quarter of configs by runtime (lowest first), the rest uniformly from the others; bias = 0 (or
// no runtimes) is uniform.
std::vector<int64_t> sample_configs(int64_t num_configs, int64_t k, double bias,
                                    const std::vector<double>& runtime, std::mt19937_64& rng);

// n distinct segment indices of 0..S-1 in increasing order (all of them when S <= n).
std::vector<int64_t> sample_segments(int64_t num_segments, int64_t n, std::mt19937_64& rng);

// Stale Embedding Dropout: per stale embedding a scale of 0 (dropped, probability p) or
// 1 / (1 - p) (kept). The expected rescaled sum equals the undropped sum. p = 0 keeps all at 1.
std::vector<float> stale_dropout_scales(int64_t n, double p, std::mt19937_64& rng);

}  // namespace gst
