// The learning-rate schedule: linear warmup, then cosine decay, step decay or constant.
#pragma once

#include <cstdint>

#include "run/run_config.h"

namespace gst {

struct LrSchedule {
  LrScheduleKind kind = LrScheduleKind::Cosine;
  double base_lr = 1e-3;
  int64_t warmup_steps = 0;   // lr rises linearly from base_lr/warmup to base_lr
  int64_t total_steps = 1;    // cosine reaches min_lr_ratio * base_lr here
  double min_lr_ratio = 0.0;  // cosine floor
  int64_t step_size = 1000;   // step: multiply by gamma every step_size steps after warmup
  double gamma = 0.5;

  // The lr used for the update of step `step` (0-based).
  double lr(int64_t step) const;
};

}  // namespace gst
