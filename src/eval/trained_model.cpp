#include "eval/trained_model.h"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "common/errors.h"
#include "eval/evaluator.h"
#include "run/checkpoint_schema.h"
#include "run/torch_file.h"

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
  out.config = read_saved_config(out.checkpoint.dir / checkpoint_schema::kConfigFile);
  if (!store_override.empty()) out.config.data.store = store_override;
  out.store = SegmentStore::open(out.config.data.store);
  const Manifest& m = out.store->manifest();
  out.model = CostModel(out.config.model, m.task, m.node_columns, m.config_columns);
  load_torch_file(out.model, out.checkpoint.dir / checkpoint_schema::kModelFile, device);
  out.model->to(device);
  out.model->eval();
  out.model->set_precision(usable_precision(out.config.eval.precision, device, "eval.precision"));
  spdlog::info("loaded {} (step {})", out.checkpoint.dir.string(), out.checkpoint.step);
  return out;
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
}

TrainedModel load_trained_model(const ModelSource& source) {
  if (source.threads > 0) torch::set_num_threads(source.threads);
  TrainedModel out = load_trained_model(source.run, source.checkpoint, source.store, torch::kCPU);
  if (!source.precision.empty()) {
    out.model->set_precision(usable_precision(
        parse_enum<Precision>(source.precision, "--precision"), torch::kCPU, "--precision"));
  }
  return out;
}

std::vector<int64_t> split_graphs(const TrainedModel& model, const std::string& split) {
  std::vector<int64_t> graphs = model.store->split(split);
  if (graphs.empty()) input_error("the store has no graphs in split '{}'", split);
  return graphs;
}

Evaluator make_evaluator(const TrainedModel& model) {
  return Evaluator(model.model, *model.store, model.config.gst.mode == GstMode::FullGraph,
                   torch::kCPU, model.config.eval.config_batch, model.config.eval.max_batch_nodes);
}

}  // namespace gst
