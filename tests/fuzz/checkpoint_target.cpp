// A checkpoint's manifest.json on arbitrary bytes, beside two fixed files it may list: verified,
// listed among its run's checkpoints, and used for a resume hint.
#include "common/errors.h"
#include "fuzz_target.h"
#include "run/checkpoint.h"

namespace gst::fuzz {
namespace {

void run(const std::filesystem::path& file, const std::string& bytes) {
  const std::filesystem::path dir = file.parent_path();
  write_file(dir / "config.yaml", "train:\n  steps: 7\n");
  write_file(dir / "rng-rank0.json", "{\"seed\": 0, \"rank\": 0, \"next_step\": 7}\n");
  write_file(file, bytes);
  const std::filesystem::path run_dir = dir.parent_path();
  list_checkpoints(run_dir);
  newest_valid_checkpoint(run_dir);
  resume_hint(dir);
  CheckpointInfo info = verify_checkpoint(dir);
  require(info.dir == dir, "verify_checkpoint names another directory");
}

}  // namespace

const FuzzTarget& checkpoint_target() {
  static const FuzzTarget target{"checkpoint", "run/step-7/manifest.json", run};
  return target;
}

}  // namespace gst::fuzz
