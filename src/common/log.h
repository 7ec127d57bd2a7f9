// The one logger: rank-aware, so multi-rank runs log at info from rank 0 only unless asked.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace gst::log {

// Sets up the global logger. Non-zero ranks log warnings and errors only unless all_ranks.
// level: trace|debug|info|warn|error.
void init(int rank, const std::string& level = "info", bool all_ranks = false);

}  // namespace gst::log
