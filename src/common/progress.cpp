#include "common/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace gst {

Progress::Progress(std::string label, int64_t total)
    : label_(std::move(label)),
      total_(total),
      enabled_(isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::advance(int64_t done, double bytes) {
  done_ += done;
  bytes_ += bytes;
  auto now = std::chrono::steady_clock::now();
  if (enabled_ && (now - last_draw_ > std::chrono::milliseconds(200) || done_ == total_)) {
    last_draw_ = now;
    draw();
  }
}

void Progress::draw() {
  double secs = elapsed_seconds();
  double rate = secs > 0 ? done_ / secs : 0;
  double eta = rate > 0 ? (total_ - done_) / rate : 0;
  std::string mb =
      bytes_ > 0 ? fmt::format(", {:.1f} MB/s", bytes_ / 1e6 / std::max(secs, 1e-9)) : "";
  fmt::print(stderr, "\r{} {}/{} ({:.1f}/s{}), ETA {:.0f}s   ", label_, done_, total_, rate, mb,
             eta);
  std::fflush(stderr);
}

double Progress::finish() {
  if (enabled_) fmt::print(stderr, "\r\033[K");
  return elapsed_seconds();
}

}  // namespace gst
