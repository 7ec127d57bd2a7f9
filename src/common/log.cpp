#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "common/errors.h"

namespace gst::log {

void init(int rank, const std::string& level, bool all_ranks) {
  auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off")
    input_error("unknown log level '{}': expected trace, debug, info, warn, error or off", level);
  auto logger = spdlog::stderr_color_mt("gst-" + std::to_string(rank));
  logger->set_pattern(fmt::format("[%H:%M:%S.%e] [rank {}] [%^%l%$] %v", rank));
  logger->set_level(rank == 0 || all_ranks ? parsed : std::max(parsed, spdlog::level::warn));
  spdlog::set_default_logger(logger);
}

}  // namespace gst::log
