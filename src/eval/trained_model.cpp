#include "eval/trained_model.h"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "common/errors.h"
#include "eval/evaluator.h"
#include "run/checkpoint_schema.h"
#include "run/device.h"
#include "run/torch_file.h"

namespace gst {

namespace {

// The checkpoint named by run_dir (its newest one that verifies) or checkpoint: exactly one.
CheckpointInfo chosen_checkpoint(const std::string& run_dir, const std::string& checkpoint) {
  if (run_dir.empty() == checkpoint.empty())
    input_error("give exactly one of --run and --checkpoint");
  if (!checkpoint.empty()) return verify_checkpoint(checkpoint);
  auto found = newest_valid_checkpoint(run_dir);
  if (!found) input_error("{}: no complete checkpoint in this run directory", run_dir);
  return *found;
}

// `precision_key` names where config.eval.precision came from, for usable_precision's warning.
TrainedModel load_checkpoint(const CheckpointInfo& checkpoint, RunConfig config,
                             const std::string& store_override, torch::Device device,
                             const char* precision_key = "eval.precision") {
  TrainedModel out;
  out.checkpoint = checkpoint;
  out.config = std::move(config);
  if (!store_override.empty()) out.config.data.store = store_override;
  out.store = SegmentStore::open(out.config.data.store);
  const Manifest& m = out.store->manifest();
  out.model = CostModel(out.config.model, m.task, m.node_columns, m.config_columns);
  load_torch_file(out.model, out.checkpoint.dir / checkpoint_schema::kModelFile, device);
  out.model->to(device);
  out.model->eval();
  out.device = device;
  out.model->set_precision(usable_precision(out.config.eval.precision, device, precision_key));
  spdlog::info("loaded {} (step {}) on {}", out.checkpoint.dir.string(), out.checkpoint.step,
               device.str());
  return out;
}

RunConfig saved_config(const CheckpointInfo& checkpoint) {
  return read_saved_config(checkpoint.dir / checkpoint_schema::kConfigFile);
}

}  // namespace

TrainedModel load_trained_model(const std::string& run_dir, const std::string& checkpoint,
                                const std::string& store_override, torch::Device device) {
  const CheckpointInfo info = chosen_checkpoint(run_dir, checkpoint);
  return load_checkpoint(info, saved_config(info), store_override, device);
}

void add_model_source_options(CLI::App& cmd, ModelSource& source) {
  cmd.add_option("--run", source.run, "run directory (its newest complete checkpoint)");
  cmd.add_option("--checkpoint", source.checkpoint, "one checkpoint directory (step-N)");
  cmd.add_option("--split", source.split, "split of the store to use")
      ->check(CLI::IsMember({"train", "valid", "test"}))
      ->capture_default_str();
  cmd.add_option("--store", source.store, "segment store (default: the one the run trained on)");
  cmd.add_option("--threads", source.threads, "torch threads (0: torch's default)");
  cmd.add_option("--precision", source.precision,
                 "matrix products: fp32 | bf16 (default: the run's eval.precision)");
  cmd.add_option("--device", source.device, "auto | cpu | cuda (default: the run's train.device)");
}

TrainedModel load_trained_model(const ModelSource& source) {
  if (source.threads > 0) torch::set_num_threads(source.threads);
  const CheckpointInfo info = chosen_checkpoint(source.run, source.checkpoint);
  RunConfig config = saved_config(info);
  const char* precision_key = "eval.precision";
  if (!source.precision.empty()) {
    config.eval.precision = parse_enum<Precision>(source.precision, "--precision");
    precision_key = "--precision";
  }
  const char* device_key = "the run's train.device (give --device cpu to evaluate on the CPU)";
  if (!source.device.empty()) {
    config.train.device = parse_enum<DeviceChoice>(source.device, "--device");
    device_key = "--device";
  }
  const torch::Device device = resolve_device(config.train.device, device_key);
  return load_checkpoint(info, std::move(config), source.store, device, precision_key);
}

std::vector<int64_t> split_graphs(const TrainedModel& model, const std::string& split) {
  std::vector<int64_t> graphs = model.store->split(split);
  if (graphs.empty()) input_error("the store has no graphs in split '{}'", split);
  return graphs;
}

Evaluator make_evaluator(const TrainedModel& model) {
  return Evaluator(model.model, *model.store, model.config.gst.mode == GstMode::FullGraph,
                   model.device, model.config.eval.config_batch, model.config.eval.max_batch_nodes);
}

}  // namespace gst
