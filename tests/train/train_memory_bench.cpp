// Peak memory of training steps: GST (segments of 1000 nodes, history table, SED) against the
// full-graph baseline on synthetic layout graphs of 5k, 50k and 200k nodes. Each measurement runs
// in its own process (peak RSS only grows), after the stores are written by the parent.
//
// Usage: train_memory_bench [--steps N] [--sizes 5000,50000,200000] [--full-graph-max NODES]
// Full-graph runs are skipped above --full-graph-max nodes (default 20000: it needs about 0.25 GB
// per 1000 nodes with this model, more than a small machine has at 200k). Prints a table and fails
// (exit 1) if GST's peak at the largest size exceeds 1.5x its peak at the smallest.
#include <malloc.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <cstdio>
#include <iostream>
#include <sstream>

#include "comm/distributed_history_table.h"
#include "comm/mpi_communicator.h"
#include "data/synth.h"
#include "gst/gst_step.h"
#include "gst/sampling.h"
#include "sharding/shard_collection.h"
#include "test_support.h"

namespace {

using namespace gst;

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;  // ru_maxrss is in KiB on Linux
}

void write_store(const std::filesystem::path& dir, int64_t nodes) {
  SynthOptions o;
  o.configs = 32;
  Graph g = synth_graph(o, Task::Layout, 11, nodes);
  g.id = "big";
  std::vector<std::pair<std::string, Graph>> graphs;
  graphs.emplace_back("train", std::move(g));
  MemoryGraphSource source(Task::Layout, std::move(graphs));
  ShardOptions options;
  options.out = dir;
  options.collection = "layout:xla:random";
  options.segment_size = 1000;
  shard_collection(source, options);
}

// The child: `steps` training steps on the store's one graph; prints "baseline peak".
int child(const std::string& store_dir, const std::string& mode, int steps) {
  // A fixed mmap threshold: tensors of 1 MiB and more are mapped and unmapped when freed, so the
  // peak RSS measures the memory a step holds rather than glibc's heap retention, which otherwise
  // grows with the number of forward passes (its dynamic threshold rises to 32 MiB).
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  torch::set_num_threads(1);
  auto store = SegmentStore::open(store_dir);
  const double baseline = peak_rss_mb();
  ModelConfig mc;  // reference widths: hidden 256, projection 128, 3 layers
  torch::manual_seed(0);
  CostModel model(mc, Task::Layout, store->manifest().node_columns,
                  store->manifest().config_columns);
  GstConfig cfg;
  cfg.mode = parse_enum<GstMode>(mode, "--mode");
  cfg.configs_per_graph = 32;
  DistributedHistoryTable table(gst::testing::world(), model->embedding_dim());
  GstStep step(model, *store, cfg.mode == GstMode::Gst ? &table : nullptr, cfg, RankingLoss{},
               torch::kCPU,
               /*max_batch_nodes=*/32000);
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-4));
  for (int s = 0; s < steps; ++s) {
    auto rng = seeded_rng({static_cast<uint64_t>(s)});
    auto samples = step.sample(store->split("train"), rng);
    opt.zero_grad();
    auto loss = step.loss(samples, s, rng);
    loss.backward();
    opt.step();
    step.push_fresh(s);
  }
  std::printf("%.1f %.1f\n", baseline, peak_rss_mb());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "--child")
    return child(argv[2], argv[3], std::stoi(argv[4]));
  int steps = 3;
  int64_t full_graph_max = 20000;
  std::vector<int64_t> sizes = {5000, 50000, 200000};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--steps") steps = std::stoi(argv[i + 1]);
    if (a == "--full-graph-max") full_graph_max = std::stoll(argv[i + 1]);
    if (a == "--sizes") {
      sizes.clear();
      std::stringstream ss(argv[i + 1]);
      for (std::string t; std::getline(ss, t, ',');) sizes.push_back(std::stoll(t));
    }
  }
  gst::testing::ScratchDir dir("memory_bench");
  std::printf("%-10s %-11s %12s %12s %14s\n", "nodes", "mode", "baseline MB", "peak MB",
              "step MB (peak-baseline)");
  double gst_first = 0, gst_last = 0;
  for (int64_t n : sizes) {
    const auto store = dir / ("store" + std::to_string(n));
    write_store(store, n);
    for (std::string mode : {"gst", "full_graph"}) {
      if (mode == "full_graph" && n > full_graph_max) {
        std::printf("%-10lld %-11s %12s %12s %14s\n", static_cast<long long>(n), mode.c_str(), "-",
                    "skipped", "(> --full-graph-max)");
        continue;
      }
      auto r = gst::testing::run_command(std::string(argv[0]) + " --child " + store.string() + " " +
                                         mode + " " + std::to_string(steps));
      double base = 0, peak = 0;
      if (r.exit_code != 0 || std::sscanf(r.output.c_str(), "%lf %lf", &base, &peak) != 2) {
        std::cerr << "child failed: " << r.output << "\n";
        return 1;
      }
      std::printf("%-10lld %-11s %12.1f %12.1f %14.1f\n", static_cast<long long>(n), mode.c_str(),
                  base, peak, peak - base);
      if (mode == "gst") (gst_first == 0 ? gst_first : gst_last) = peak;
    }
  }
  const double ratio = gst_last / gst_first;
  std::printf("GST peak RSS at %lld nodes / at %lld nodes: %.2fx (bound 1.5x)\n",
              static_cast<long long>(sizes.back()), static_cast<long long>(sizes.front()), ratio);
  return ratio <= 1.5 ? 0 : 1;
}
