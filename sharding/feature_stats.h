// Per-column mean, standard deviation, range and integrality of node or config features,
// mergeable across graphs and threads.
#pragma once

#include <cstdint>
#include <vector>

#include "store/manifest.h"

namespace gst {

// Chan et al.'s parallel update of (count, mean, M2): exact to double precision even when the
// features are large integers stored as floats.
class FeatureStats {
 public:
  explicit FeatureStats(int columns);
  // rows: [n, columns]
  void add(const std::vector<float>& rows);
  void add(const float* rows, int64_t n);
  void merge(const FeatureStats& other);
  int64_t count() const { return count_; }
  std::vector<float> mean() const;
  std::vector<float> stddev() const;  // population std; 0 for a constant column
  ColumnStats summary() const;        // empty vectors when no row was added

 private:
  int columns_;
  int64_t count_ = 0;
  std::vector<double> mean_, m2_;
  std::vector<float> min_, max_;
  std::vector<uint8_t> integer_;
};

// Rows fed in pieces of any size give the same statistics as the same rows fed in one piece:
// they are added in fixed blocks of kBlockRows rows (a streamed graph's config features arrive
// a block of configs at a time; the in-memory path feeds them whole).
class BlockedFeatureStats {
 public:
  static constexpr int64_t kBlockRows = 16384;
  explicit BlockedFeatureStats(int columns) : stats_(columns), columns_(columns) {}
  void add(const float* rows, int64_t n);  // rows: [n, columns]
  FeatureStats finish();

 private:
  FeatureStats stats_;
  int columns_;
  std::vector<float> pending_;  // < kBlockRows rows
};

}  // namespace gst
