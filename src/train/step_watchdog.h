// The backstop of the collective watchdog: a training step that runs far longer than
// dist.timeout_s (a hang outside any collective, e.g. a read that never returns on every rank)
// ends the job with a report and exit code kStalledExitCode.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace gst {

class StepWatchdog {
 public:
  // limit_s <= 0: no thread, no limit.
  explicit StepWatchdog(double limit_s);
  ~StepWatchdog();
  StepWatchdog(const StepWatchdog&) = delete;
  StepWatchdog& operator=(const StepWatchdog&) = delete;

  // Starts timing `step` (it also becomes the step that stall reports name).
  void arm(int64_t step);
  // The step finished.
  void disarm();

 private:
  void watch();

  double limit_s_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  int64_t step_ = -1;  // -1: disarmed
  std::chrono::steady_clock::time_point started_;
  std::thread thread_;
};

}  // namespace gst
