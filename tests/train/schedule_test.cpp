#include "train/schedule.h"

#include <gtest/gtest.h>

namespace {

TEST(LrSchedule, WarmupThenCosine) {
  gst::LrSchedule s;
  s.kind = gst::LrScheduleKind::Cosine;
  s.base_lr = 1.0;
  s.warmup_steps = 4;
  s.total_steps = 104;
  s.min_lr_ratio = 0.1;
  EXPECT_DOUBLE_EQ(s.lr(0), 0.25);
  EXPECT_DOUBLE_EQ(s.lr(3), 1.0);
  EXPECT_DOUBLE_EQ(s.lr(4), 1.0);
  EXPECT_NEAR(s.lr(54), 0.55, 1e-12);  // halfway: floor + (1 - floor) / 2
  EXPECT_NEAR(s.lr(104), 0.1, 1e-12);
  EXPECT_NEAR(s.lr(500), 0.1, 1e-12);
}

TEST(LrSchedule, StepAndConstant) {
  gst::LrSchedule s;
  s.kind = gst::LrScheduleKind::Step;
  s.base_lr = 0.8;
  s.step_size = 10;
  s.gamma = 0.5;
  EXPECT_DOUBLE_EQ(s.lr(0), 0.8);
  EXPECT_DOUBLE_EQ(s.lr(9), 0.8);
  EXPECT_DOUBLE_EQ(s.lr(10), 0.4);
  EXPECT_DOUBLE_EQ(s.lr(25), 0.2);
  s.kind = gst::LrScheduleKind::Constant;
  EXPECT_DOUBLE_EQ(s.lr(1000), 0.8);
}

}  // namespace
