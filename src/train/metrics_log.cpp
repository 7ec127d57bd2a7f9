#include "train/metrics_log.h"

#include <sstream>
#include <vector>

#include "common/errors.h"

namespace gst {

MetricsLog::MetricsLog(const std::filesystem::path& file, int64_t resume_step) : file_(file) {
  std::vector<std::string> kept;
  if (resume_step > 0 && std::filesystem::exists(file)) {
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!j.is_discarded() && j.value("step", int64_t{0}) <= resume_step) kept.push_back(line);
    }
  }
  out_.open(file, std::ios::trunc);
  if (!out_) fail("cannot write the metrics log {}", file.string());
  for (const auto& line : kept) out_ << line << "\n";
  out_.flush();
}

void MetricsLog::write(const nlohmann::json& record) {
  out_ << record.dump() << "\n";
  out_.flush();
}

}  // namespace gst
