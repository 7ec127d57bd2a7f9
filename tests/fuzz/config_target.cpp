// A run config: the input is the YAML file, then NUL-separated `--set key=value` overrides. An
// accepted config must survive the dump/reload a checkpoint's config.yaml goes through.
#include "common/errors.h"
#include "fuzz_target.h"
#include "run/run_config.h"

namespace gst::fuzz {
namespace {

void run(const std::filesystem::path& file, const std::string& bytes) {
  size_t end = bytes.find('\0');
  write_file(file, bytes.substr(0, end));
  std::vector<std::string> sets;
  while (end != std::string::npos) {
    const size_t next = bytes.find('\0', end + 1);
    sets.push_back(bytes.substr(end + 1, next == std::string::npos ? next : next - end - 1));
    end = next;
  }
  RunConfig config = load_run_config(file, sets);
  const std::string dumped = dump_config(config);
  const std::filesystem::path saved = file.parent_path() / "saved.yaml";
  write_file(saved, dumped);
  RunConfig again = read_saved_config(saved);
  require(dump_config(again) == dumped, "a dumped config reads back differently");
}

}  // namespace

const FuzzTarget& config_target() {
  static const FuzzTarget target{"config", "config.yaml", run};
  return target;
}

}  // namespace gst::fuzz
