// The historical embedding table sharded across ranks by key hash. Each entry lives on its owner
// rank; pull is two batched all-to-all exchanges (keys to owners, rows back), push is one (keys,
// step and rows to owners). World size 1 runs the same code.
#pragma once

#include <cstdint>
#include <list>
#include <unordered_map>
#include <vector>

#include "comm/communicator.h"
#include "gst/history_table.h"

namespace gst {

struct DistributedHistoryOptions {
  int64_t max_staleness = -1;  // steps; older entries count as missing. < 0: no limit
  int64_t max_entries = 0;  // per rank; beyond it the least recently written are evicted. 0: no cap
};

// Stats: lookups, hits and staleness are this rank's pulls; bytes_exchanged counts what this rank
// sent to and received from other ranks; entries and evictions are this rank's shard. All but
// entries restart at reset_stats(). Within one push, a key pushed by several ranks keeps the value
// of the highest rank.
class DistributedHistoryTable : public HistoryTable {
 public:
  DistributedHistoryTable(Communicator& comm, int64_t dim, DistributedHistoryOptions options = {});

  int64_t dim() const override { return dim_; }
  void pull(const std::vector<HistoryKey>& keys, int64_t step, float* out,
            std::vector<uint8_t>& found) override;
  void push(const std::vector<HistoryKey>& keys, const float* values, int64_t step) override;
  HistoryStats stats() const override;
  void reset_stats() override;
  // File format (little-endian): "GSTHIST\0", u32 version = 1, u32 0, i64 dim, i64 count, then per
  // entry, oldest write first: i64 graph, config, segment, step, f32 row[dim].
  void save(const std::filesystem::path& file) const override;
  void load(const std::vector<std::filesystem::path>& files) override;

  // The rank owning `key` among `ranks` ranks; stable across runs, so a saved table re-shards.
  static int owner(const HistoryKey& key, int ranks);
  // Bytes this rank sent to and received from other ranks in the last pull or push.
  int64_t last_call_bytes() const { return last_call_bytes_; }

 private:
  struct Entry {
    int64_t step;
    size_t slot;                              // row index in rows_
    std::list<HistoryKey>::iterator written;  // position in write_order_
  };
  void write(const HistoryKey& key, int64_t step, const float* row);
  void evict_oldest();
  std::vector<std::vector<uint8_t>> exchange(const std::vector<std::vector<uint8_t>>& send);

  Communicator& comm_;
  int64_t dim_;
  DistributedHistoryOptions options_;
  std::unordered_map<HistoryKey, Entry, HistoryKeyHash> entries_;
  std::list<HistoryKey> write_order_;  // least recently written first
  std::vector<float> rows_;            // [slots, dim]
  std::vector<size_t> free_slots_;
  HistoryStats stats_;
  double staleness_sum_ = 0;
  int64_t last_call_bytes_ = 0;
};

}  // namespace gst
