#include "eval/submission.h"

#include <algorithm>
#include <fstream>
#include <numeric>

#include "common/errors.h"

namespace gst {

std::vector<int64_t> top_configs(const std::vector<double>& scores, Task task) {
  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return scores[a] < scores[b]; });
  if (task == Task::Tile && order.size() > 5) order.resize(5);
  return order;
}

void write_submission(const std::filesystem::path& file, const std::vector<SubmissionRow>& rows) {
  const std::filesystem::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) fail("cannot write {}", tmp.string());
    out << "ID,TopConfigs\n";
    for (const auto& row : rows) {
      out << row.id << ",";
      for (size_t i = 0; i < row.top_configs.size(); ++i)
        out << (i ? ";" : "") << row.top_configs[i];
      out << "\n";
    }
    out.flush();
    if (!out) fail("writing {} failed (disk full?)", tmp.string());
  }
  std::filesystem::rename(tmp, file);
}

}  // namespace gst
