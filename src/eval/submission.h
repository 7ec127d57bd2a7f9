// The competition submission CSV: header "ID,TopConfigs", one row per graph, ID
// "<collection>:<graph_id>", TopConfigs the config indices best first separated by ';' (every
// config for layout, the best five for tile).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/graph.h"

namespace gst {

struct SubmissionRow {
  std::string id;  // <collection>:<graph_id>
  std::vector<int64_t> top_configs;
};

// Config indices ordered best (lowest score = fastest predicted) first; ties keep index order.
// Tile keeps the first 5, layout all.
std::vector<int64_t> top_configs(const std::vector<double>& scores, Task task);

// Writes the CSV atomically (temporary file, then rename).
void write_submission(const std::filesystem::path& file, const std::vector<SubmissionRow>& rows);

}  // namespace gst
