// The historical embedding table of GST: stale segment embeddings keyed by (graph, config,
// segment).
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace gst {

// config = -1 where a config does not change the segment's embedding (tile).
struct HistoryKey {
  int64_t graph = 0;
  int64_t config = -1;
  int64_t segment = 0;
  bool operator==(const HistoryKey& o) const {
    return graph == o.graph && config == o.config && segment == o.segment;
  }
};

struct HistoryKeyHash {
  size_t operator()(const HistoryKey& k) const {
    uint64_t h = static_cast<uint64_t>(k.graph) * 0x9E3779B97F4A7C15ull;
    h ^= static_cast<uint64_t>(k.config + 1) * 0xC2B2AE3D27D4EB4Full + (h << 6) + (h >> 2);
    h ^= static_cast<uint64_t>(k.segment) * 0x165667B19E3779F9ull + (h << 6) + (h >> 2);
    return static_cast<size_t>(h);
  }
};

struct HistoryStats {
  int64_t lookups = 0, hits = 0;       // since the last reset_stats()
  double mean_staleness = 0;           // steps, over hits
  int64_t bytes_exchanged = 0;         // this rank, sent + received
  double seconds = 0;                  // this rank, time spent in pull and push
  int64_t entries = 0, evictions = 0;  // this rank's shard
  double hit_rate() const { return lookups ? static_cast<double>(hits) / lookups : 0; }
};

// The interface the trainer uses. pull and push are collective in distributed implementations:
// every rank calls them each step, possibly with no keys.
class HistoryTable {
 public:
  virtual ~HistoryTable() = default;
  virtual int64_t dim() const = 0;
  // out: [keys.size(), dim]; found[i] = 0 (and out row zero) when the key was never written, was
  // evicted, or is older than max_staleness steps at `step`.
  virtual void pull(const std::vector<HistoryKey>& keys, int64_t step, float* out,
                    std::vector<uint8_t>& found) = 0;
  // values: [keys.size(), dim], written at `step`; a later push of the same key replaces it.
  virtual void push(const std::vector<HistoryKey>& keys, const float* values, int64_t step) = 0;
  virtual HistoryStats stats() const = 0;
  virtual void reset_stats() = 0;
  // Checkpointing: save this rank's entries to `file`; load keeps the entries this rank owns from
  // every given file (files may come from a run with a different number of ranks).
  virtual void save(const std::filesystem::path& file) const = 0;
  virtual void load(const std::vector<std::filesystem::path>& files) = 0;
};

}  // namespace gst
