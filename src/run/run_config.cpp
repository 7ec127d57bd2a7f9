#include "run/run_config.h"

namespace gst {

RunConfig load_run_config(const std::filesystem::path& file, const std::vector<std::string>& sets) {
  RunConfig config = load_config<RunConfig>(file, sets);
  if (config.data.store.empty())
    input_error("{}: 'data.store' is required (the segment store written by gst shard)",
                file.empty() ? "<config>" : file.string());
  return config;
}

RunConfig read_saved_config(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file)) input_error("{}: run config not found", file.string());
  return load_config<RunConfig>(file, {});
}

}  // namespace gst
