#include "train/schedule.h"

#include <algorithm>
#include <cmath>

namespace gst {

double LrSchedule::lr(int64_t step) const {
  if (step < warmup_steps) return base_lr * static_cast<double>(step + 1) / warmup_steps;
  const int64_t after = step - warmup_steps;
  if (kind == LrScheduleKind::Constant) return base_lr;
  if (kind == LrScheduleKind::Step)
    return base_lr * std::pow(gamma, static_cast<double>(after / step_size));
  const int64_t span = std::max<int64_t>(1, total_steps - warmup_steps);
  const double t = std::min(1.0, static_cast<double>(after) / span);
  const double floor = min_lr_ratio * base_lr;
  return floor + (base_lr - floor) * 0.5 * (1.0 + std::cos(M_PI * t));
}

}  // namespace gst
