// The `dist:` section of a training config: communicator backend, gradient sync and the sharded
// history table's limits.
#pragma once

#include "comm/communicator.h"
#include "comm/distributed_history_table.h"
#include "comm/gradient_sync.h"
#include "common/config.h"

namespace gst {

struct DistConfig {
  Backend backend = Backend::Auto;
  double bucket_mb = 25;             // gradient megabytes per fused all-reduce
  bool overlap = true;               // start bucket all-reduces during backward
  int64_t check_every = 0;           // steps between cross-rank parameter checks; 0: never
  int64_t table_max_staleness = -1;  // steps; older history entries count as missing; -1: no limit
  int64_t table_max_entries = 0;     // history entries per rank; 0: no cap
  // Seconds a collective may wait before the job ends with a stall report (exit code 4); a
  // training step may run twice as long. 0: no limit.
  double timeout_s = kDefaultCollectiveTimeoutS;

  void visit(ConfigSection& s) {
    s.choice("backend", backend);
    s.field("bucket_mb", bucket_mb, 1e-6, 1e6);
    s.field("overlap", overlap);
    s.field("check_every", check_every, 0);
    s.field("table_max_staleness", table_max_staleness, -1);
    s.field("table_max_entries", table_max_entries, 0);
    s.field("timeout_s", timeout_s, 0.0, 1e7);
  }

  GradientSyncOptions gradient_sync() const {
    return {static_cast<size_t>(bucket_mb * (1 << 20)), overlap};
  }
  DistributedHistoryOptions history() const { return {table_max_staleness, table_max_entries}; }
};

}  // namespace gst
