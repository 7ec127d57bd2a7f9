// A trained model loaded back from a run directory or one checkpoint, with its config and store.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

#include "model/cost_model.h"
#include "run/checkpoint.h"
#include "run/run_config.h"
#include "store/segment_store.h"

namespace CLI {
class App;
}

namespace gst {

class Evaluator;

struct TrainedModel {
  // As saved in the checkpoint, with the command's --store, --precision and --device applied.
  RunConfig config;
  CheckpointInfo checkpoint;
  std::shared_ptr<SegmentStore> store;
  CostModel model{nullptr};       // in eval mode
  c10::Device device{c10::kCPU};  // where the model and its batches live
};

// Exactly one of run_dir (its newest checkpoint that verifies) and checkpoint. store_override
// replaces the store path saved in the config when not empty.
TrainedModel load_trained_model(const std::string& run_dir, const std::string& checkpoint,
                                const std::string& store_override, torch::Device device);

// The options of `gst eval` and `gst predict` that pick a trained model and a split.
struct ModelSource {
  std::string run, checkpoint, split, store;
  int threads = 0;
  std::string precision;  // fp32 | bf16; empty: the run config's eval.precision
  std::string device;     // auto | cpu | cuda; empty: the run config's train.device
};

// Adds --run, --checkpoint, --split (default source.split), --store, --threads, --precision and
// --device to cmd.
void add_model_source_options(CLI::App& cmd, ModelSource& source);

// Sets torch's threads and loads the model named by source onto its device.
TrainedModel load_trained_model(const ModelSource& source);

// The store's graphs of source.split; throws InputError when there are none.
std::vector<int64_t> split_graphs(const TrainedModel& model, const std::string& split);

// An evaluator of the model with the run's eval settings (full-graph runs embed whole graphs).
Evaluator make_evaluator(const TrainedModel& model);

}  // namespace gst
