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
  struct Options : ModelSource {
    std::string out;
  };
  auto opt = std::make_shared<Options>();
  opt->split = "test";
  CLI::App* cmd =
      app.add_subcommand("predict", "Write the submission CSV (ID,TopConfigs) of a trained model");
  add_model_source_options(*cmd, *opt);
  cmd->add_option("--out", opt->out, "submission CSV to write")->required();
  cmd->callback([opt] {
    TrainedModel tm = load_trained_model(*opt);
    Evaluator evaluator = make_evaluator(tm);
    const std::vector<int64_t> graphs = split_graphs(tm, opt->split);
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
    int64_t cut = 0;
    for (int64_t g : graphs)
      cut += tm.store->graphs()[g].source_configs > tm.store->graphs()[g].num_configs;
    if (cut > 0)
      spdlog::warn(
          "predict: {} of {} graphs keep only some of their configs (gst shard --max-configs {}): "
          "their TopConfigs count the kept configs, not the source file's; shard the {} split "
          "without --max-configs for a submission",
          cut, graphs.size(), manifest.options.max_configs, opt->split);
    spdlog::info("predict: {} rows for {} {} written to {}", rows.size(), manifest.collection,
                 opt->split, opt->out);
  });
}

}  // namespace gst
