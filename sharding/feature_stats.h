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

}  // namespace gst
