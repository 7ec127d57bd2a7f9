// The single-process historical embedding table: the reference implementation of HistoryTable.
#pragma once

#include <cstdint>
#include <map>
#include <unordered_map>
#include <vector>

#include "gst/history_table.h"

namespace gst {

struct HistoryTableOptions {
  int64_t max_staleness = 0;  // > 0: entries older than this many steps count as missing
  int64_t max_entries = 0;    // > 0: cap; the least recently written entries are evicted
};

class LocalHistoryTable : public HistoryTable {
 public:
  explicit LocalHistoryTable(int64_t dim, HistoryTableOptions options = {});

  int64_t dim() const override { return dim_; }
  void pull(const std::vector<HistoryKey>& keys, int64_t step, float* out,
            std::vector<uint8_t>& found) override;
  void push(const std::vector<HistoryKey>& keys, const float* values, int64_t step) override;
  HistoryStats stats() const override;
  void reset_stats() override;
  void save(const std::filesystem::path& file) const override;
  void load(const std::vector<std::filesystem::path>& files) override;

 private:
  struct Entry {
    std::vector<float> value;  // [dim]
    int64_t step = 0;          // when it was written
    uint64_t order = 0;        // write sequence number, for least-recently-written eviction
  };
  void put(const HistoryKey& key, const float* value, int64_t step);

  int64_t dim_;
  HistoryTableOptions options_;
  std::unordered_map<HistoryKey, Entry, HistoryKeyHash> entries_;
  std::map<uint64_t, HistoryKey> write_order_;  // order -> key, oldest first
  uint64_t next_order_ = 0;
  int64_t lookups_ = 0, hits_ = 0, evictions_ = 0;
  double staleness_sum_ = 0;
};

// The on-disk form of a table shard, shared by every HistoryTable implementation:
// magic "GSTHIST1", int64 dim, int64 count, then per entry int64 graph, config, segment, step and
// dim float32 values (little-endian host order).
struct HistoryRecord {
  HistoryKey key;
  int64_t step = 0;
  std::vector<float> value;
};
void write_history_file(const std::filesystem::path& file, int64_t dim,
                        const std::vector<HistoryRecord>& records);
// Throws InputError naming the file when it is truncated, has a bad magic or another dim.
std::vector<HistoryRecord> read_history_file(const std::filesystem::path& file, int64_t dim);

}  // namespace gst
