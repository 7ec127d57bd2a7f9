#include "train/step_watchdog.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

#include "comm/communicator.h"

namespace gst {

StepWatchdog::StepWatchdog(double limit_s) : limit_s_(limit_s) {
  if (limit_s_ > 0) thread_ = std::thread([this] { watch(); });
}

StepWatchdog::~StepWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StepWatchdog::arm(int64_t step) {
  set_watched_step(step);
  std::lock_guard<std::mutex> lock(mutex_);
  step_ = step;
  started_ = std::chrono::steady_clock::now();
}

void StepWatchdog::disarm() {
  std::lock_guard<std::mutex> lock(mutex_);
  step_ = -1;
}

void StepWatchdog::watch() {
  const auto limit = std::chrono::duration<double>(limit_s_);
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    wake_.wait_for(lock, std::chrono::milliseconds(500));
    if (stop_ || step_ < 0 || std::chrono::steady_clock::now() - started_ < limit) continue;
    const std::string reason = fmt::format(
        "step {} has run for more than {:.0f} s (twice dist.timeout_s) without finishing: a hang "
        "outside collectives (a read or a device call that never returns)",
        step_, limit_s_);
    spdlog::error("watchdog: {}; ending the job with exit code {}", reason, kStalledExitCode);
    spdlog::default_logger()->flush();
    abort_job_if_distributed(kStalledExitCode, reason);
    std::_Exit(kStalledExitCode);  // a single-process run
  }
}

}  // namespace gst
