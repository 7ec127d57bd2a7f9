// `gst predict`: the competition submission CSV of a trained model on a split (test by default;
// runtimes are not needed).
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <memory>

#include "commands.h"
#include "common/errors.h"
#include "common/progress.h"
#include "eval/evaluator.h"
#include "eval/submission.h"
#include "eval/trained_model.h"

namespace gst {

void add_predict_command(CLI::App& app) {
  struct Options {
    std::string run, checkpoint, split = "test", out, store;
    int threads = 0;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd =
      app.add_subcommand("predict", "Write the submission CSV (ID,TopConfigs) of a trained model");
  cmd->add_option("--run", opt->run, "run directory (its newest complete checkpoint)");
  cmd->add_option("--checkpoint", opt->checkpoint, "one checkpoint directory (step-N)");
  cmd->add_option("--split", opt->split, "split to predict")
      ->check(CLI::IsMember({"train", "valid", "test"}))
      ->capture_default_str();
  cmd->add_option("--out", opt->out, "submission CSV to write")->required();
  cmd->add_option("--store", opt->store, "segment store (default: the one the run trained on)");
  cmd->add_option("--threads", opt->threads, "torch threads (0: torch's default)");
  cmd->callback([opt] {
    if (opt->threads > 0) torch::set_num_threads(opt->threads);
    TrainedModel tm = load_trained_model(opt->run, opt->checkpoint, opt->store, torch::kCPU);
    Evaluator evaluator(tm.model, *tm.store, tm.config.gst.mode == "full_graph", torch::kCPU,
                        tm.config.eval.config_batch, tm.config.eval.max_batch_nodes);
    const std::vector<int64_t> graphs = tm.store->split(opt->split);
    if (graphs.empty()) input_error("the store has no graphs in split '{}'", opt->split);
    const Manifest& manifest = tm.store->manifest();
    std::vector<SubmissionRow> rows;
    Progress progress("graphs", static_cast<int64_t>(graphs.size()));
    for (int64_t g : graphs) {
      const GraphEntry& e = tm.store->graphs()[g];
      rows.push_back(
          {manifest.collection + ":" + e.id, top_configs(evaluator.scores(g), manifest.task)});
      progress.advance();
    }
    progress.finish();
    write_submission(opt->out, rows);
    spdlog::info("predict: {} rows for {} {} written to {}", rows.size(), manifest.collection,
                 opt->split, opt->out);
  });
}

}  // namespace gst
