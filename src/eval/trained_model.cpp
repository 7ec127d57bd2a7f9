#include "eval/trained_model.h"

#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "train/torch_file.h"

namespace gst {

TrainedModel load_trained_model(const std::string& run_dir, const std::string& checkpoint,
                                const std::string& store_override, torch::Device device) {
  if (run_dir.empty() == checkpoint.empty())
    input_error("give exactly one of --run and --checkpoint");
  TrainedModel out;
  if (!run_dir.empty()) {
    auto found = newest_valid_checkpoint(run_dir);
    if (!found) input_error("{}: no complete checkpoint in this run directory", run_dir);
    out.checkpoint = *found;
  } else {
    out.checkpoint = verify_checkpoint(checkpoint);
  }
  out.config = read_saved_config(out.checkpoint.dir / "config.yaml");
  if (!store_override.empty()) out.config.data.store = store_override;
  out.store = SegmentStore::open(out.config.data.store);
  const Manifest& m = out.store->manifest();
  out.model = CostModel(out.config.model, m.task, m.feature_mean, m.feature_std);
  load_torch_file(out.model, out.checkpoint.dir / "model.pt", device);
  out.model->to(device);
  out.model->eval();
  spdlog::info("loaded {} (step {})", out.checkpoint.dir.string(), out.checkpoint.step);
  return out;
}

}  // namespace gst
