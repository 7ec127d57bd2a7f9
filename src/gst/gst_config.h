// Options of Graph Segment Training: the YAML section `gst` of a run config.
#pragma once

#include <array>
#include <cstdint>
#include <utility>

#include "common/config.h"

namespace gst {

// gst: trained segments fresh, the others from the history table (with SED);
// segment_only: the graph embedding from the trained segments alone (no history);
// full_graph: no segmentation, the whole graph runs with gradients (the baseline).
enum class GstMode { Gst, SegmentOnly, FullGraph };
constexpr auto enum_names(GstMode) {
  return std::array{std::pair{GstMode::Gst, "gst"}, std::pair{GstMode::SegmentOnly, "segment_only"},
                    std::pair{GstMode::FullGraph, "full_graph"}};
}

// What a never-written (or too stale: dist.table_max_staleness) table entry becomes: `compute`
// runs that segment once without gradient and writes it to the table; `drop` leaves it out as if
// SED had dropped it.
enum class MissingEntries { Compute, Drop };
constexpr auto enum_names(MissingEntries) {
  return std::array{std::pair{MissingEntries::Compute, "compute"},
                    std::pair{MissingEntries::Drop, "drop"}};
}

struct GstConfig {
  GstMode mode = GstMode::Gst;
  int configs_per_graph = 32;  // K configs sampled per graph per step
  double config_bias = 0.0;    // share of the K drawn from the best quarter of configs
  int segments_per_graph = 1;  // segments trained (with gradients) per graph per step
  // Stale Embedding Dropout probability; 0 (the default) disables it: measured to cost tau on
  // every synthetic family here (src/train/README.md), unlike the paper's reference value 0.5.
  double sed_p = 0;
  MissingEntries missing = MissingEntries::Compute;
  int64_t head_steps = 0;  // GST+EFD: head-only fine-tuning steps after the main phase
  double head_lr = 1e-4;   // fine-tuning lr (constant)

  void visit(ConfigSection& c) {
    c.choice("mode", mode);
    c.field("configs_per_graph", configs_per_graph, 1, 100000);
    c.field("config_bias", config_bias, 0.0, 1.0);
    c.field("segments_per_graph", segments_per_graph, 1, 100000);
    c.field("sed_p", sed_p, 0.0, 0.99);
    c.choice("missing", missing);
    c.field("head_steps", head_steps, 0);
    c.field("head_lr", head_lr, 0.0, 10.0);
  }
};

}  // namespace gst
