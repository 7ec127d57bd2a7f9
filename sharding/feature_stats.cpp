#include "sharding/feature_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/errors.h"

namespace gst {

FeatureStats::FeatureStats(int columns)
    : columns_(columns),
      mean_(columns, 0.0),
      m2_(columns, 0.0),
      min_(columns, std::numeric_limits<float>::infinity()),
      max_(columns, -std::numeric_limits<float>::infinity()),
      integer_(columns, 1) {}

void FeatureStats::add(const std::vector<float>& rows) {
  GST_CHECK(rows.size() % columns_ == 0, "{} feature values are not rows of {}", rows.size(),
            columns_);
  add(rows.data(), static_cast<int64_t>(rows.size() / columns_));
}

void FeatureStats::add(const float* rows, int64_t n) {
  if (n <= 0) return;
  // Two passes over this block, then one merge: stable for any magnitude.
  FeatureStats block(columns_);
  block.count_ = n;
  for (int64_t i = 0; i < n; ++i)
    for (int c = 0; c < columns_; ++c) {
      const float x = rows[i * columns_ + c];
      block.mean_[c] += x;
      block.min_[c] = std::min(block.min_[c], x);
      block.max_[c] = std::max(block.max_[c], x);
      block.integer_[c] &= std::nearbyint(x) == x;
    }
  for (int c = 0; c < columns_; ++c) block.mean_[c] /= n;
  for (int64_t i = 0; i < n; ++i)
    for (int c = 0; c < columns_; ++c) {
      double d = rows[i * columns_ + c] - block.mean_[c];
      block.m2_[c] += d * d;
    }
  merge(block);
}

void FeatureStats::merge(const FeatureStats& other) {
  GST_CHECK(other.columns_ == columns_, "merging feature stats of {} and {} columns", columns_,
            other.columns_);
  if (other.count_ == 0) return;
  int64_t total = count_ + other.count_;
  for (int c = 0; c < columns_; ++c) {
    double delta = other.mean_[c] - mean_[c];
    mean_[c] += delta * other.count_ / total;
    m2_[c] += other.m2_[c] + delta * delta * static_cast<double>(count_) * other.count_ / total;
  }
  count_ = total;
  for (int c = 0; c < columns_; ++c) {
    min_[c] = std::min(min_[c], other.min_[c]);
    max_[c] = std::max(max_[c], other.max_[c]);
    integer_[c] &= other.integer_[c];
  }
}

void BlockedFeatureStats::add(const float* rows, int64_t n) {
  while (n > 0) {
    int64_t have = static_cast<int64_t>(pending_.size()) / columns_;
    if (have == 0 && n >= kBlockRows) {  // a whole block straight from the caller's rows
      stats_.add(rows, kBlockRows);
      rows += kBlockRows * columns_;
      n -= kBlockRows;
      continue;
    }
    int64_t take = std::min(n, kBlockRows - have);
    pending_.insert(pending_.end(), rows, rows + take * columns_);
    rows += take * columns_;
    n -= take;
    if (have + take == kBlockRows) {
      stats_.add(pending_.data(), kBlockRows);
      pending_.clear();
    }
  }
}

FeatureStats BlockedFeatureStats::finish() {
  stats_.add(pending_.data(), static_cast<int64_t>(pending_.size()) / columns_);
  pending_.clear();
  pending_.shrink_to_fit();
  return stats_;
}

std::vector<float> FeatureStats::mean() const { return {mean_.begin(), mean_.end()}; }

std::vector<float> FeatureStats::stddev() const {
  std::vector<float> out(columns_, 0.0f);
  if (count_ == 0) return out;
  for (int c = 0; c < columns_; ++c) {
    double var = m2_[c] / count_;
    // Rounding can leave a tiny M2 for a constant column: call it constant.
    out[c] = var > 1e-12 * (1.0 + mean_[c] * mean_[c]) ? static_cast<float>(std::sqrt(var)) : 0.0f;
  }
  return out;
}

ColumnStats FeatureStats::summary() const {
  if (count_ == 0) return {};
  return {mean(), stddev(), min_, max_, integer_};
}

}  // namespace gst
