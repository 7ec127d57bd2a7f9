// Tiny synthetic segment stores and run configs for training, evaluation and prediction tests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "data/synth.h"
#include "sharding/shard_collection.h"

namespace gst::testing {

struct TinyStore {
  Task task = Task::Layout;
  int train = 14, valid = 4, test = 3;
  int64_t min_nodes = 300, max_nodes = 1200;  // layout sizes (tile uses synth's defaults)
  int64_t configs = 24;
  int64_t segment_size = 200;
  int shards = 2;
  uint64_t seed = 5;
  int64_t max_configs = 0;  // gst shard --max-configs (0: every config)
};

// Synthesizes the graphs in memory (data/synth.h) and shards them into `dir` (a real store).
inline std::filesystem::path make_store(const std::filesystem::path& dir, const TinyStore& s) {
  SynthOptions o;
  o.configs = s.configs;
  std::vector<std::pair<std::string, Graph>> graphs;
  const int total = s.train + s.valid + s.test;
  for (int i = 0; i < total; ++i) {
    const std::string split = i < s.train ? "train" : i < s.train + s.valid ? "valid" : "test";
    // Sizes spread evenly over [min, max] so every split gets small and large graphs.
    const int64_t nodes = s.min_nodes + (s.max_nodes - s.min_nodes) * ((i * 7) % total) / total;
    Graph g = synth_graph(o, s.task, s.seed * 1000 + i, nodes);
    g.id = "g" + std::to_string(i);
    graphs.emplace_back(split, std::move(g));
  }
  MemoryGraphSource source(s.task, std::move(graphs));
  ShardOptions options;
  options.out = dir;
  options.collection = s.task == Task::Layout ? "layout:xla:random" : "tile:xla";
  options.input = "memory";
  options.shards = s.shards;
  options.segment_size = s.segment_size;
  options.max_configs = s.max_configs;
  shard_collection(source, options);
  return dir;
}

// The store of the multi-rank fault tests: 8 / 2 / 1 layout graphs of at most 600 nodes, so a
// tiny-model step under mpirun costs milliseconds.
inline std::filesystem::path make_fault_store(const std::filesystem::path& dir) {
  TinyStore s;
  s.train = 8;
  s.valid = 2;
  s.test = 1;
  s.max_nodes = 600;
  return make_store(dir, s);
}

// A small, fast run config over `store` (YAML text; tests add --set overrides).
inline std::string tiny_run_yaml(const std::filesystem::path& store,
                                 const std::filesystem::path& run_dir) {
  return "data:\n  store: " + store.string() +
         "\n"
         "model:\n  hidden: 64\n  projection: 32\n  layers: 3\n  head_hidden: 64\n"
         "  dropout: 0.1\n"
         "gst:\n  configs_per_graph: 8\n  segments_per_graph: 1\n  sed_p: 0.5\n"
         "train:\n  steps: 12\n  batch_graphs: 3\n  lr: 0.003\n  warmup_steps: 2\n"
         "  log_every: 1\n  seed: 7\n  torch_threads: 1\n  run_dir: " +
         run_dir.string() + "\n";
}

// step -> loss of every train line of a run's metrics log (mean over ranks).
inline std::map<int64_t, double> train_losses(const std::filesystem::path& run_dir) {
  std::map<int64_t, double> out;
  std::ifstream in(run_dir / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["kind"] == "train") out[j["step"].get<int64_t>()] = j["loss"].get<double>();
  }
  return out;
}

// A shell script that starts `job` (an mpirun command, the shell's direct child) with its output
// in `log`, waits until a file matching the shell glob `ready` exists, sends `signal` (kill's
// name, e.g. KILL or STOP) to the process of rank `rank` (the child of mpirun whose environment
// says OMPI_COMM_WORLD_RANK=rank), optionally `then` (shell commands, $victim is that process),
// and waits up to `max_wait_s` for the job to end. It prints "HUNG" if the job outlived that,
// "rc=<mpirun exit code> seconds=<from the signal to the job's end>", then the log.
inline std::string signal_rank_script(const std::string& job, const std::string& ready, int rank,
                                      const std::string& signal, int max_wait_s,
                                      const std::string& log, const std::string& then = "") {
  const std::string polls = std::to_string(max_wait_s * 20);
  return job + " > " + log + " 2>&1 & job=$!\n" + "for i in $(seq 1200); do ls " + ready +
         " >/dev/null 2>&1 && break; sleep 0.05; done\n"
         "victim=\n"
         "for p in $(pgrep -P $job); do\n"
         "  tr '\\0' '\\n' < /proc/$p/environ 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=" +
         std::to_string(rank) +
         " && victim=$p\n"
         "done\n"
         "[ -n \"$victim\" ] || { echo no-rank-" +
         std::to_string(rank) +
         "; kill -9 $job; exit 1; }\n"
         "t0=$(date +%s.%N); kill -" +
         signal + " $victim\n" + then +
         "\n"
         "for i in $(seq " +
         polls +
         "); do kill -0 $job 2>/dev/null || break; sleep 0.05; done\n"
         "t1=$(date +%s.%N)\n"
         "kill -0 $job 2>/dev/null && { echo HUNG; kill -9 $job; }\n"
         "wait $job; rc=$?\n"
         "kill -9 $victim 2>/dev/null\n"
         "echo rc=$rc seconds=$(awk \"BEGIN{print $t1 - $t0}\")\n"
         "cat " +
         log;
}

// The number after "key=" in a script's output, or -1.
inline double output_field(const std::string& output, const std::string& key) {
  const auto at = output.find(key + "=");
  return at == std::string::npos ? -1 : std::stod(output.substr(at + key.size() + 1));
}

inline std::filesystem::path write_text(const std::filesystem::path& file,
                                        const std::string& text) {
  std::ofstream(file) << text;
  return file;
}

}  // namespace gst::testing
