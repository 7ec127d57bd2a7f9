// A trained model loaded back from a run directory or one checkpoint, with its config and store.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

#include "model/cost_model.h"
#include "store/segment_store.h"
#include "train/checkpoint.h"
#include "train/run_config.h"

namespace gst {

struct TrainedModel {
  RunConfig config;  // as saved in the checkpoint
  CheckpointInfo checkpoint;
  std::shared_ptr<SegmentStore> store;
  CostModel model{nullptr};  // in eval mode
};

// Exactly one of run_dir (its newest checkpoint that verifies) and checkpoint. store_override
// replaces the store path saved in the config when not empty.
TrainedModel load_trained_model(const std::string& run_dir, const std::string& checkpoint,
                                const std::string& store_override, torch::Device device);

}  // namespace gst
