#include "model/precision.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>

namespace {

// bf16 products pad their rows to a bucket so that oneDNN compiles few kernels: a bucket holds its
// rows, wastes at most 1/8 of them, and there are at most 8 buckets per doubling.
TEST(Precision, BucketedRowsAreFewAndClose) {
  int64_t previous = 0;
  std::set<int64_t> buckets;
  for (int64_t rows = 0; rows <= (int64_t{1} << 18); ++rows) {
    const int64_t padded = gst::bucketed_rows(rows);
    if (rows < 16) EXPECT_EQ(padded, rows);
    EXPECT_GE(padded, rows);
    EXPECT_LE(8 * (padded - rows), rows) << rows;
    EXPECT_GE(padded, previous) << rows;
    EXPECT_EQ(gst::bucketed_rows(padded), padded) << rows;
    previous = padded;
    buckets.insert(padded);
  }
  // 0..15 exactly, then 8 per doubling from 16 to 2^18, and 2^18 itself.
  EXPECT_EQ(buckets.size(), 16u + 8u * 14u + 1u);
  EXPECT_EQ(gst::bucketed_rows(int64_t{1} << 40), int64_t{1} << 40);
  EXPECT_EQ(gst::bucketed_rows((int64_t{1} << 40) + 1), (int64_t{1} << 40) + (int64_t{1} << 37));
}

// bf16 where the CPU multiplies it in hardware, else the logged fallback to fp32.
TEST(Precision, UsablePrecisionFollowsTheCpu) {
  const c10::Device cpu(c10::kCPU);
  EXPECT_EQ(gst::usable_precision(gst::Precision::Fp32, cpu, "test"), gst::Precision::Fp32);
  EXPECT_EQ(gst::usable_precision(gst::Precision::Bf16, cpu, "test"),
            gst::cpu_has_bf16() ? gst::Precision::Bf16 : gst::Precision::Fp32);
}

}  // namespace
