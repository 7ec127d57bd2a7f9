// Synthetic TpuGraphs: HLO-like graphs whose runtimes come from the hidden cost function in
// data/synth_cost.h, written in the real directory layout and dtypes.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>

#include "data/graph.h"

namespace gst {

// How layout configs are drawn, the last part of a layout collection's name: uniformly (random)
// or near each node's own layout (default).
enum class ConfigSearch { Random, Default };
constexpr auto enum_names(ConfigSearch) {
  return std::array{std::pair{ConfigSearch::Random, "random"},
                    std::pair{ConfigSearch::Default, "default"}};
}

struct SynthOptions {
  int64_t min_nodes = 300;  // layout graph sizes, drawn log-uniformly in [min, max]
  int64_t max_nodes = 3000;
  int64_t min_tile_nodes = 8;  // tile kernels
  int64_t max_tile_nodes = 60;
  int64_t configs = 64;            // configs per graph
  double min_config_share = 0.05;  // layout: share of configurable nodes, drawn per graph
  double max_config_share = 0.20;
  ConfigSearch search = ConfigSearch::Random;  // layout configs
  std::string cost = "classic";  // cost family, data/synth_cost.h (e.g. "agree,heavy,noisy")
  double noise = 0.03;           // sigma of the multiplicative log-normal runtime noise
  double train_fraction = 0.7;
  double valid_fraction = 0.15;  // the rest is test
  bool compress = true;          // savez_compressed-style files
  // What writing one graph may hold (gst synth --memory-mb): a layout graph whose
  // node_config_feat exceeds a quarter of it is drawn and written a block of configs at a time
  // (a sixteenth of it), with the same bytes as when held whole.
  int64_t memory_bytes = int64_t{1} << 30;
  int64_t stream_above_bytes = -1;  // >= 0: stream above this many bytes instead (tests)
};

// One graph of `task` with exactly num_nodes nodes, deterministic in (options, task, seed).
Graph synth_graph(const SynthOptions& options, Task task, uint64_t seed, int64_t num_nodes);

// What graphs offer a model at best: mean over them of Kendall's tau between the runtimes and the
// noiseless cost (the noise ceiling) or the oracle's scores, and for tile the top-1 / top-5
// slowdowns of both.
struct ReferenceFigures {
  int64_t graphs = 0;
  double ceiling_tau = 0, oracle_tau = 0;
  double ceiling_top1 = 0, ceiling_top5 = 0, oracle_top1 = 0, oracle_top5 = 0;  // tile only
};
// The figures of a whole written collection and of each of its splits: a model is measured on
// one split (valid), and a split of a few graphs can sit hundredths away from the collection.
struct SynthReference : ReferenceFigures {
  std::string family;                              // canonical --cost spelling
  std::map<std::string, ReferenceFigures> splits;  // "train", "valid", "test" (those with graphs)
};

// Writes `num_graphs` graphs of the collection `collection` ("layout:xla:random", "tile:xla", ...)
// under out/npz/<layout|tile>/... in train/valid/test folders; byte-identical for a seed.
// Returns the collection's reference figures (also logged).
SynthReference synth_collection(const std::string& collection, const std::filesystem::path& out,
                                int64_t num_graphs, uint64_t seed, const SynthOptions& options);

}  // namespace gst
