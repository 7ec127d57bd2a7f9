// Segment read latency: one 1000-node segment with 32 sampled configs, cold and warm page cache.
//   build/tests/segment_read_bench [--configs C] [--graphs G] [--reads R] [--compression L]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "data/synth.h"
#include "sharding/shard_collection.h"
#include "store/manifest.h"
#include "store/segment_store.h"
#include "test_support.h"

namespace {

using namespace gst;
using Clock = std::chrono::steady_clock;

}  // namespace

int main(int argc, char** argv) {
  const int64_t configs = gst::testing::int_arg(argc, argv, "--configs", 1000);
  const int64_t graphs = gst::testing::int_arg(argc, argv, "--graphs", 4);
  const int64_t reads = gst::testing::int_arg(argc, argv, "--reads", 200);
  const int64_t K = 1000, sample = 32;
  testing::ScratchDir dir("segment_read_bench");

  // Layout graphs of 3000 nodes: three 1000-node segments each (contiguous partitioner).
  SynthOptions so;
  so.configs = configs;
  std::vector<std::pair<std::string, Graph>> input;
  for (int64_t g = 0; g < graphs; ++g)
    input.emplace_back("train", synth_graph(so, Task::Layout, g, 3 * K));
  MemoryGraphSource source(Task::Layout, std::move(input));
  ShardOptions o;
  o.out = dir / "store";
  o.segment_size = K;
  o.shards = 2;
  o.workers = 2;
  o.compression_level = static_cast<int>(
      gst::testing::int_arg(argc, argv, "--compression", ShardOptions{}.compression_level));
  ShardSummary built = shard_collection(source, o);
  std::printf("store: %lld graphs x 3000 nodes, %lld configs, deflate level %d, %.1f MB\n",
              static_cast<long long>(graphs), static_cast<long long>(configs), o.compression_level,
              built.store_bytes / 1e6);

  std::mt19937_64 rng(7);
  auto pick = [&](const SegmentStore& store, int64_t* g, int64_t* s, std::vector<int64_t>* c) {
    *g = static_cast<int64_t>(rng() % store.graphs().size());
    *s = static_cast<int64_t>(rng() % store.graphs()[*g].num_segments());
    c->clear();
    for (int64_t k = 0; k < sample; ++k) c->push_back(static_cast<int64_t>(rng() % configs));
  };
  auto check = [&](const Segment& seg) {
    // The benchmark checks what it reads: 1000 nodes, 32 configs of every configurable node.
    if (seg.num_nodes != K || seg.node_feat.size() != static_cast<size_t>(K * kNodeFeatureDim) ||
        seg.config_feat.size() != sample * seg.config_nodes.size() * kLayoutConfigDim ||
        seg.config_nodes.empty()) {
      std::fprintf(stderr, "segment_read_bench: wrong segment shape\n");
      std::exit(1);
    }
  };

  const Manifest manifest = Manifest::read(o.out);
  std::vector<double> warm, cold;
  {
    auto store = SegmentStore::open(o.out);
    int64_t g, s;
    std::vector<int64_t> c;
    for (int i = 0; i < 20; ++i) {  // warm-up: files open, pages cached
      pick(*store, &g, &s, &c);
      check(store->load_segment(g, s, c));
    }
    for (int64_t i = 0; i < reads; ++i) {
      pick(*store, &g, &s, &c);
      auto t0 = Clock::now();
      Segment seg = store->load_segment(g, s, c);
      warm.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      check(seg);
    }
  }
  for (int64_t i = 0; i < std::max<int64_t>(reads / 4, 20); ++i) {
    // Cold: shard files evicted from the page cache and a fresh reader (no HDF5 caches).
    for (const auto& shard : manifest.shards) testing::evict_from_page_cache(o.out / shard.file);
    auto store = SegmentStore::open(o.out);
    int64_t g, s;
    std::vector<int64_t> c;
    pick(*store, &g, &s, &c);
    auto t0 = Clock::now();
    Segment seg = store->load_segment(g, s, c);
    cold.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    check(seg);
  }
  std::printf(
      "segment read (1000 nodes, 32 of %lld configs): warm median %.3f ms p99 %.3f ms (%zu "
      "reads)\n",
      static_cast<long long>(configs), testing::percentile(warm, 0.5),
      testing::percentile(warm, 0.99), warm.size());
  std::printf(
      "segment read (1000 nodes, 32 of %lld configs): cold median %.3f ms p99 %.3f ms (%zu reads, "
      "page cache dropped with posix_fadvise(DONTNEED), file opened by the read)\n",
      static_cast<long long>(configs), testing::percentile(cold, 0.5),
      testing::percentile(cold, 0.99), cold.size());
  return 0;
}
