// `gst eval`: ranking metrics of a trained model on a split, with fresh embeddings of every
// segment and every config.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common/errors.h"
#include "common/progress.h"
#include "eval/evaluator.h"
#include "eval/trained_model.h"

namespace gst {

void add_eval_command(CLI::App& app) {
  struct Options : ModelSource {
    std::string out;
  };
  auto opt = std::make_shared<Options>();
  opt->split = "valid";
  CLI::App* cmd = app.add_subcommand(
      "eval", "Kendall tau, OPA and top-1/5/10 slowdown of a trained model on a split");
  add_model_source_options(*cmd, *opt);
  cmd->add_option("--out", opt->out, "write the metrics as JSON to this file");
  cmd->callback([opt] {
    TrainedModel tm = load_trained_model(*opt);
    Evaluator evaluator = make_evaluator(tm);
    const std::vector<int64_t> graphs = split_graphs(tm, opt->split);
    Progress progress("graphs", static_cast<int64_t>(graphs.size()));
    MetricSums sums;
    int64_t configs = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int64_t g : graphs) {
      sums.add(evaluator.metrics(g));
      configs += tm.store->graphs()[g].num_configs;
      progress.advance();
    }
    progress.finish();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (sums.graphs == 0)
      input_error("split '{}' has no runtimes to evaluate against (use gst predict)", opt->split);
    const MetricSums m = sums.mean();
    const std::string collection = tm.store->manifest().collection;
    nlohmann::json j = {{"checkpoint", tm.checkpoint.dir.string()},
                        {"step", tm.checkpoint.step},
                        {"split", opt->split},
                        {"seconds", secs},
                        {"graphs_per_s", graphs.size() / secs},
                        {"configs_per_s", configs / secs},
                        {"collections",
                         {{collection,
                           {{"graphs", static_cast<int64_t>(m.graphs)},
                            {"kendall_tau", m.kendall_tau},
                            {"opa", m.opa},
                            {"slowdown_top1", m.slowdown1},
                            {"slowdown_top5", m.slowdown5},
                            {"slowdown_top10", m.slowdown10}}}}}};
    std::cout << fmt::format("{:<20} {:>6} {:>8} {:>8} {:>9} {:>9} {:>9}\n", "collection", "graphs",
                             "tau", "opa", "slow@1", "slow@5", "slow@10")
              << fmt::format("{:<20} {:>6} {:>8.4f} {:>8.4f} {:>9.4f} {:>9.4f} {:>9.4f}\n",
                             collection, static_cast<int64_t>(m.graphs), m.kendall_tau, m.opa,
                             m.slowdown1, m.slowdown5, m.slowdown10)
              << fmt::format("({} configs in {:.1f}s: {:.0f} configs/s)\n", configs, secs,
                             configs / secs);
    if (!opt->out.empty()) {
      std::ofstream out(opt->out);
      out << j.dump(2) << "\n";
      if (!out) fail("cannot write {}", opt->out);
    }
  });
}

}  // namespace gst
