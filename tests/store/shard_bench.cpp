// Sharding throughput (graphs/s, input MB/s), store size vs input .npz size, and the edge-cut
// fraction of the contiguous and METIS partitioners, on a synthetic layout collection.
//   build/tests/shard_bench [--graphs N] [--workers W] [--segment-size K]
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "common/enum_names.h"
#include "data/synth.h"
#include "sharding/shard_collection.h"
#include "sharding/verify.h"
#include "test_support.h"

int main(int argc, char** argv) {
  using namespace gst;
  const int64_t graphs = gst::testing::int_arg(argc, argv, "--graphs", 200);
  const int workers = static_cast<int>(gst::testing::int_arg(argc, argv, "--workers", 2));
  const int64_t K = gst::testing::int_arg(argc, argv, "--segment-size", 1000);
  testing::ScratchDir dir("shard_bench");
  SynthOptions so;  // layout graphs of 300..3000 nodes, 64 configs, compressed .npz
  synth_collection("layout:xla:random", dir.path(), graphs, 1, so);
  std::filesystem::path input = dir / "npz/layout/xla/random";
  std::printf("input: %lld synthetic layout:xla:random graphs (%lld..%lld nodes, %lld configs)\n",
              static_cast<long long>(graphs), static_cast<long long>(so.min_nodes),
              static_cast<long long>(so.max_nodes), static_cast<long long>(so.configs));

  for (Partitioner partitioner : {Partitioner::Contiguous, Partitioner::Metis}) {
    CollectionSource source(input, "", {"train", "valid", "test"});
    ShardOptions o;
    o.out = dir / (std::string("store-") + std::string(to_string(partitioner)));
    o.collection = "layout:xla:random";
    o.shards = 4;
    o.segment_size = K;
    o.partitioner = partitioner;
    o.workers = workers;
    ShardSummary s = shard_collection(source, o);
    VerifyReport check = verify_store(o.out);
    if (s.graphs != graphs || !check.problems.empty()) {
      std::fprintf(stderr, "shard_bench: store of %lld graphs has %zu problems\n",
                   static_cast<long long>(s.graphs), check.problems.size());
      return 1;
    }
    std::printf(
        "%-10s K=%lld workers=%d: %.1f graphs/s, %.1f input MB/s (%.2f s); input .npz %.1f MB "
        "-> store %.1f MB (%.2fx); edge-cut fraction %.4f (%lld of %lld edges)\n",
        std::string(to_string(partitioner)).c_str(), static_cast<long long>(K), workers,
        s.graphs / s.seconds, s.input_bytes / 1e6 / s.seconds, s.seconds, s.input_bytes / 1e6,
        s.store_bytes / 1e6, static_cast<double>(s.store_bytes) / s.input_bytes,
        static_cast<double>(s.cut_edges) / s.total_edges, static_cast<long long>(s.cut_edges),
        static_cast<long long>(s.total_edges));
  }
  return 0;
}
