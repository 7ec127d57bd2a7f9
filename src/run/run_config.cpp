#include "run/run_config.h"

#include <fmt/format.h>

#include <string>
#include <utility>
#include <vector>

namespace gst {

RunConfig load_run_config(const std::filesystem::path& file, const std::vector<std::string>& sets) {
  RunConfig config = load_config<RunConfig>(file, sets);
  if (config.data.store.empty())
    input_error("{}: 'data.store' is required (the segment store written by gst shard)",
                file.empty() ? "<config>" : file.string());
  return config;
}

// Model keys added after runs were saved, with the behaviour those runs were trained with: their
// checkpoints hold no parameters for what the key turns on.
constexpr std::pair<const char*, const char*> kAddedModelKeys[] = {
    {"column_pooling", "false"},   {"neighbour_match", "false"}, {"dim_fit", "false"},
    {"layout_agreement", "false"}, {"node_cost", "linear"},      {"cost_channels", "1"},
    {"operand_sizes", "false"},    {"direct_costs", "false"},    {"operand_copies", "false"},
    {"cost_map_scale", "1"},       {"kept_layout_fit", "false"}, {"tile_align", "false"}};

RunConfig read_saved_config(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file)) input_error("{}: run config not found", file.string());
  RunConfig config = load_config<RunConfig>(file, {});
  const YAML::Node model = YAML::LoadFile(file.string())["model"];
  std::vector<std::string> absent;
  for (const auto& [key, value] : kAddedModelKeys)
    if (!model[key]) absent.push_back(fmt::format("model.{}={}", key, value));
  return absent.empty() ? config : load_config<RunConfig>(file, absent);
}

}  // namespace gst
