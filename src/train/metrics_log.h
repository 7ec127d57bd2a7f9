// The run's metrics log: one JSON object per line in <run>/metrics.jsonl, written by rank 0.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace gst {

class MetricsLog {
 public:
  // Opens the log for appending. A resumed run first drops the lines of steps after
  // `resume_step` (written by the interrupted run after its last checkpoint).
  MetricsLog(const std::filesystem::path& file, int64_t resume_step);
  void write(const nlohmann::json& record);

 private:
  std::filesystem::path file_;
  std::ofstream out_;
};

}  // namespace gst
