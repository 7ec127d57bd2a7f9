// Historical embedding table traffic and time per training step for a realistic pattern: per rank
// 8 graphs x 32 configs x 10 segments, dim 256; each (graph, config) trains 1 segment (pushed) and
// pulls the other 9. Run: OMP_NUM_THREADS=1 mpirun -np 2 build/tests/history_table_bench [steps]
#include <chrono>
#include <cstdio>
#include <random>

#include "comm/distributed_history_table.h"
#include "comm/mpi_communicator.h"

int main(int argc, char** argv) {
  using Clock = std::chrono::steady_clock;
  const int steps = argc > 1 ? std::atoi(argv[1]) : 100;
  const int warmup = 20;
  const int64_t dim = 256, graphs = 8, configs = 32, segments = 10, graph_pool = 50,
                config_pool = 100;
  gst::MpiCommunicator comm;
  gst::DistributedHistoryTable table(comm, dim);
  std::mt19937_64 rng(1234 + comm.rank());

  std::vector<float> out, values(graphs * configs * dim, 0.25f);
  std::vector<uint8_t> found;
  double pull_s = 0, push_s = 0, pull_bytes = 0, push_bytes = 0;
  for (int step = 0; step < warmup + steps; ++step) {
    if (step == warmup) table.reset_stats();
    std::vector<gst::HistoryKey> pulls, pushes;
    for (int64_t g = 0; g < graphs; ++g) {
      const int64_t graph = rng() % graph_pool, trained = rng() % segments;
      for (int64_t c = 0; c < configs; ++c) {
        const int64_t config = rng() % config_pool;
        for (int64_t s = 0; s < segments; ++s)
          (s == trained ? pushes : pulls).push_back({graph, config, s});
      }
    }
    out.resize(pulls.size() * dim);
    comm.barrier();
    const auto t0 = Clock::now();
    table.pull(pulls, step, out.data(), found);
    const auto t1 = Clock::now();
    const int64_t pulled = table.last_call_bytes();
    table.push(pushes, values.data(), step);
    const auto t2 = Clock::now();
    if (step >= warmup) {
      pull_s += std::chrono::duration<double>(t1 - t0).count();
      push_s += std::chrono::duration<double>(t2 - t1).count();
      pull_bytes += pulled;
      push_bytes += table.last_call_bytes();
    }
  }
  const auto stats = table.stats();
  const double max_pull = comm.scalar_max(pull_s / steps);
  const double max_push = comm.scalar_max(push_s / steps);
  const double entries = comm.scalar_sum(static_cast<double>(stats.entries));
  if (comm.rank() == 0) {
    std::printf(
        "history table: %d ranks, dim %lld, per rank and step %lld pulls + %lld pushes, %d steps\n",
        comm.size(), static_cast<long long>(dim), static_cast<long long>(graphs * configs * 9),
        static_cast<long long>(graphs * configs), steps);
    std::printf("  rank 0 bytes to/from other ranks per step: pull %.2f MB, push %.2f MB\n",
                pull_bytes / steps / 1e6, push_bytes / steps / 1e6);
    std::printf("  time per step (slowest rank): pull %.3f ms, push %.3f ms\n", max_pull * 1e3,
                max_push * 1e3);
    std::printf("  rank 0 hit rate %.3f, mean staleness %.1f steps; %.0f entries in all\n",
                stats.hit_rate(), stats.mean_staleness, entries);
  }
  return stats.lookups == steps * graphs * configs * 9 ? 0 : 1;
}
