// A progress line on stderr (done/total, rate, ETA) for long work, shown only on a terminal.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace gst {

class Progress {
 public:
  // label: what is counted ("graphs"); total: expected count; bytes_label: unit of the rate ("MB").
  Progress(std::string label, int64_t total);
  // Adds done units and, optionally, bytes processed; redraws at most a few times a second.
  void advance(int64_t done = 1, double bytes = 0);
  // Clears the line; returns the elapsed seconds.
  double finish();
  double elapsed_seconds() const;

 private:
  void draw();
  std::string label_;
  int64_t total_;
  int64_t done_ = 0;
  double bytes_ = 0;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace gst
