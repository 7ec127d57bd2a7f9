// `gst eval`: ranking metrics of a trained model on a split, with fresh embeddings of every
// segment and every config; with --runs, of several runs of one experiment (seeds) and their
// spread.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
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
namespace {

struct Options : ModelSource {
  std::vector<std::string> runs;
  std::string out;
};

// One evaluated run: its metrics, what it was measured on and how fast.
struct RunResult {
  std::string checkpoint;
  int64_t step = 0;
  MetricSums metrics;  // means over graphs
  std::string collection;
  std::vector<int64_t> configs;  // per evaluated graph
  double seconds = 0;
  std::string subset_note;  // set when the store kept only some configs of the graphs evaluated
};

// A note when `gst shard --max-configs` cut graphs of the evaluated split: the metrics are then
// over the configs the store kept, not over all configs of the source files.
std::string subset_note(const Manifest& m, const std::vector<int64_t>& graphs) {
  int64_t cut = 0, kept = 0, source = 0;
  for (int64_t g : graphs) {
    const GraphEntry& e = m.graphs[g];
    cut += e.source_configs > e.num_configs ? 1 : 0;
    kept += e.num_configs;
    source += e.source_configs;
  }
  if (m.options.max_configs <= 0) return "";
  return fmt::format(
      "note: the store was sharded with --max-configs {} (seed {}): {} of {} graphs keep a subset "
      "of their configs ({} of {} configs), so these metrics are over the kept configs only",
      m.options.max_configs, m.options.max_configs_seed, cut, graphs.size(), kept, source);
}

RunResult evaluate_run(const ModelSource& source) {
  TrainedModel tm = load_trained_model(source);
  Evaluator evaluator = make_evaluator(tm);
  const std::vector<int64_t> graphs = split_graphs(tm, source.split);
  Progress progress("graphs", static_cast<int64_t>(graphs.size()));
  RunResult r{tm.checkpoint.dir.string(),
              tm.checkpoint.step,
              {},
              tm.store->manifest().collection,
              {},
              0,
              {}};
  MetricSums sums;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t g : graphs) {
    MetricSums m = evaluator.metrics(g);
    if (m.graphs > 0) r.configs.push_back(tm.store->graphs()[g].num_configs);
    sums.add(m);
    progress.advance();
  }
  progress.finish();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (sums.graphs == 0)
    input_error("split '{}' has no runtimes to evaluate against (use gst predict)", source.split);
  r.metrics = sums.mean();
  r.subset_note = subset_note(tm.store->manifest(), graphs);
  return r;
}

// Mean and sample standard deviation of one metric over the runs.
std::pair<double, double> spread(const std::vector<RunResult>& runs, double MetricSums::*field) {
  double mean = 0, var = 0;
  for (const auto& r : runs) mean += r.metrics.*field / runs.size();
  for (const auto& r : runs) var += std::pow(r.metrics.*field - mean, 2);
  return {mean, runs.size() > 1 ? std::sqrt(var / (runs.size() - 1)) : 0.0};
}

const std::vector<std::pair<const char*, double MetricSums::*>>& metric_fields() {
  static const std::vector<std::pair<const char*, double MetricSums::*>> fields = {
      {"kendall_tau", &MetricSums::kendall_tau},   {"opa", &MetricSums::opa},
      {"slowdown_top1", &MetricSums::slowdown1},   {"slowdown_top5", &MetricSums::slowdown5},
      {"slowdown_top10", &MetricSums::slowdown10},
  };
  return fields;
}

nlohmann::json run_json(const RunResult& r) {
  nlohmann::json metrics = {{"graphs", static_cast<int64_t>(r.metrics.graphs)}};
  for (const auto& [name, field] : metric_fields()) metrics[name] = r.metrics.*field;
  int64_t configs = 0;
  for (int64_t c : r.configs) configs += c;
  return {{"checkpoint", r.checkpoint},
          {"step", r.step},
          {"seconds", r.seconds},
          {"graphs_per_s", r.metrics.graphs / r.seconds},
          {"configs_per_s", configs / r.seconds},
          {"collections", {{r.collection, metrics}}}};
}

std::string row(const std::string& name, const MetricSums& m) {
  return fmt::format("{:<28} {:>8.4f} {:>8.4f} {:>9.4f} {:>9.4f} {:>9.4f}\n", name, m.kendall_tau,
                     m.opa, m.slowdown1, m.slowdown5, m.slowdown10);
}

// Prints the table (one row per run, then mean and std over runs) and what it was measured on.
void print(const std::vector<RunResult>& runs) {
  const RunResult& first = runs.front();
  std::vector<int64_t> configs = first.configs;
  std::sort(configs.begin(), configs.end());
  int64_t total = 0;
  for (int64_t c : configs) total += c;
  if (!first.subset_note.empty()) std::cout << first.subset_note << "\n";
  std::cout << fmt::format("{}: {} graphs, configs per graph min {} / median {} / max {}\n",
                           first.collection, configs.size(), configs.front(),
                           configs[configs.size() / 2], configs.back())
            << fmt::format("{:<28} {:>8} {:>8} {:>9} {:>9} {:>9}\n", "run", "tau", "opa", "slow@1",
                           "slow@5", "slow@10");
  for (const auto& r : runs) {
    const std::string run = std::filesystem::path(r.checkpoint).parent_path().filename().string();
    std::cout << row(fmt::format("{} step {}", run, r.step), r.metrics);
  }
  if (runs.size() > 1) {
    MetricSums mean, std;
    for (const auto& [name, field] : metric_fields()) {
      std::tie(mean.*field, std.*field) = spread(runs, field);
    }
    std::cout << row(fmt::format("mean of {} runs", runs.size()), mean) << row("std", std);
  }
  std::cout << fmt::format("({} configs in {:.1f}s: {:.0f} configs/s)\n", total, first.seconds,
                           total / first.seconds);
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto opt = std::make_shared<Options>();
  opt->split = "valid";
  CLI::App* cmd = app.add_subcommand(
      "eval", "Kendall tau, OPA and top-1/5/10 slowdown of a trained model on a split");
  add_model_source_options(*cmd, *opt);
  cmd->add_option("--runs", opt->runs,
                  "several run directories of one experiment (e.g. seeds): each is evaluated, "
                  "then their mean and standard deviation");
  cmd->add_option("--out", opt->out, "write the metrics as JSON to this file");
  cmd->callback([opt] {
    if (!opt->runs.empty() && (!opt->run.empty() || !opt->checkpoint.empty()))
      input_error("eval: give --runs, or one of --run and --checkpoint, not both");
    std::vector<RunResult> runs;
    if (opt->runs.empty()) runs.push_back(evaluate_run(*opt));
    for (const std::string& dir : opt->runs) {
      ModelSource source = *opt;
      source.run = dir;
      runs.push_back(evaluate_run(source));
      if (runs.back().collection != runs.front().collection)
        input_error("eval --runs: {} trained on {}, {} on {}", runs.front().checkpoint,
                    runs.front().collection, runs.back().checkpoint, runs.back().collection);
    }
    print(runs);
    if (opt->out.empty()) return;
    nlohmann::json j = run_json(runs.front());
    j["split"] = opt->split;
    if (!runs.front().subset_note.empty()) j["note"] = runs.front().subset_note;
    if (runs.size() > 1) {
      nlohmann::json all = nlohmann::json::array(), stats;
      for (const auto& r : runs) all.push_back(run_json(r));
      for (const auto& [name, field] : metric_fields()) {
        auto [mean, std] = spread(runs, field);
        stats[name] = {{"mean", mean}, {"std", std}};
      }
      j = {{"split", opt->split}, {"runs", all}, {"spread", stats}};
    }
    std::ofstream out(opt->out);
    out << j.dump(2) << "\n";
    if (!out) fail("cannot write {}", opt->out);
  });
}

}  // namespace gst
