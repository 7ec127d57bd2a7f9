// One huge layout graph through `gst shard` in bounded memory, and sampled-config reads as the
// number of configs grows. Writes its own inputs a piece at a time (never holding them whole).
//   build/tests/shard_scale_bench [--sizes-mb 512,2048] [--config-nodes 2734] [--nodes 20000]
//       [--memory-mb 1024] [--workers 1[,2,...]] [--compression 2] [--stored 0] [--graphs 1]
//       [--read-configs 1000,10000,100000] [--reads 200]
// Part 1, per size: write a graph whose node_config_feat holds that many MB (deflated .npz by
// default), read that array back with the npz reader (its decompression rate), then run
// `gst shard --memory-mb` on it as a child process: wall time, input and decompressed MB/s, peak
// RSS (the child's getrusage); --graphs N shards N copies of the graph into N shards (they
// stream at once with --workers N; the rates count all N); a list of worker counts shards the same
// input once per count and prints each count's stage speed-up over the first. Part 2: a 1000-node
// graph (one segment, 150 configurable nodes) with 1k, 10k and 100k configs, sharded, then 32
// random configs of its segment read again and again (warm page cache, and cold: evicted and
// reopened). Both parts check what they read against the values they generated and exit 1 on a
// mismatch.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "data/graph.h"
#include "data/npz.h"
#include "sharding/shard_collection.h"
#include "store/segment_store.h"
#include "test_support.h"

extern char** environ;

namespace {

using namespace gst;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// CPU seconds (user + system) this process has used: the fairer figure on a shared machine.
double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

std::vector<int64_t> list_arg(int argc, char** argv, const char* name, const char* fallback) {
  std::string text = fallback;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) text = argv[i + 1];
  std::vector<int64_t> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(std::atoll(item.c_str()));
  return out;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "shard_scale_bench: %s\n", what.c_str());
  std::exit(1);
}

// node_config_feat[c, j, d]: layout-like small integers, most columns fixed per node, some
// varying with the config (compresses about 10x, as real layout configs do).
inline float config_value(uint64_t c, uint64_t j, uint64_t d) {
  if ((j * 7 + d) % 5 != 0) return static_cast<float>(static_cast<int>((j + d) % 6) - 1);
  uint64_t h = (c * 0x9E3779B97F4A7C15ull) ^ (j * 0xC2B2AE3D27D4EB4Full) ^ (d * 0x165667B1ull);
  h ^= h >> 29;
  return static_cast<float>(static_cast<int>(h % 7) - 1);
}

// The graph: a chain with skips, M configurable nodes spread evenly, C configs.
struct BigGraph {
  int64_t nodes, config_nodes, configs;
  int64_t config_node(int64_t j) const { return j * nodes / config_nodes; }
};

void write_big_graph(const fs::path& path, const BigGraph& g, bool compress) {
  std::mt19937_64 rng(1);
  std::vector<float> feat(g.nodes * kNodeFeatureDim);
  for (auto& f : feat) f = static_cast<float>(rng() % 16);
  std::vector<uint8_t> ops(g.nodes);
  for (auto& o : ops) o = static_cast<uint8_t>(rng() % kNumOpcodes);
  std::vector<int64_t> edges;
  for (int64_t v = 1; v < g.nodes; ++v) {
    edges.insert(edges.end(), {v - 1, v});
    if (v % 3 == 0)
      edges.insert(edges.end(), {v - 1 - int64_t(rng() % std::min<int64_t>(v, 30)), v});
  }
  std::vector<int64_t> ids(g.config_nodes), runtime(g.configs);
  for (int64_t j = 0; j < g.config_nodes; ++j) ids[j] = g.config_node(j);
  for (auto& r : runtime) r = 1000 + static_cast<int64_t>(rng() % 100000);
  NpzArrays arrays;
  arrays["node_feat"] = NpyArray::from(feat, {g.nodes, kNodeFeatureDim});
  arrays["node_opcode"] = NpyArray::from(ops, {g.nodes});
  arrays["edge_index"] = NpyArray::from(edges, {static_cast<int64_t>(edges.size() / 2), 2});
  arrays["node_config_ids"] = NpyArray::from(ids, {g.config_nodes});
  arrays["config_runtime"] = NpyArray::from(runtime, {g.configs});
  NpyGenerator gen;
  gen.dtype = DType::F32;
  gen.shape = {g.configs, g.config_nodes, kLayoutConfigDim};
  const uint64_t M = g.config_nodes, D = kLayoutConfigDim;
  gen.fill = [M, D](uint64_t offset, uint8_t* dest, size_t bytes) {
    // Whole floats only are generated; libzip may ask for any byte range.
    uint64_t first = offset / 4, last = (offset + bytes + 3) / 4;
    for (uint64_t i = first; i < last; ++i) {
      float v = config_value(i / (M * D), i / D % M, i % D);
      uint8_t b[4];
      std::memcpy(b, &v, 4);
      for (uint64_t k = 0; k < 4; ++k) {
        uint64_t at = i * 4 + k;
        if (at >= offset && at < offset + bytes) dest[at - offset] = b[k];
      }
    }
  };
  fs::create_directories(path.parent_path());
  write_npz(path, arrays, compress, {{"node_config_feat", gen}});
}

// Decompression rate of the npz reader on node_config_feat (MB per wall and per CPU second),
// checking sampled values.
std::pair<double, double> npz_reader_rate(const fs::path& path, const BigGraph& g) {
  NpzReader reader(path);
  auto t = Clock::now();
  double cpu = process_cpu_seconds();
  NpzReader::Stream stream = reader.stream("node_config_feat");
  const int64_t row = g.config_nodes * kLayoutConfigDim;
  const int64_t rows_per_piece = std::max<int64_t>(1, (16 << 20) / (row * 4));
  std::vector<float> piece(rows_per_piece * row);
  for (int64_t c = 0; c < g.configs; c += rows_per_piece) {
    int64_t n = std::min(rows_per_piece, g.configs - c);
    stream.read(piece.data(), n * row * sizeof(float));
    int64_t k = (c * 7919) % (n * row);
    if (piece[k] !=
        config_value(c + k / row, k / kLayoutConfigDim % g.config_nodes, k % kLayoutConfigDim))
      die("npz reader returned a wrong value");
  }
  double mb = stream.data_bytes() / 1e6;
  return {mb / seconds_since(t), mb / (process_cpu_seconds() - cpu)};
}

struct ChildRun {
  double seconds = 0;
  double stage_seconds = 0;  // the time gst shard reports for its own work (no program start)
  double cpu_seconds = 0;    // user + system of the child
  double peak_rss_mb = 0;
  int status = 0;
};

// Runs a command (argv) as a child with output to `log`; its wall time and peak RSS.
ChildRun run_child(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  auto t = Clock::now();
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0)
    die("cannot start " + args[0]);
  posix_spawn_file_actions_destroy(&actions);
  ChildRun out;
  rusage usage{};
  wait4(pid, &out.status, 0, &usage);
  out.seconds = seconds_since(t);
  out.peak_rss_mb = usage.ru_maxrss / 1024.0;  // KiB on Linux
  out.cpu_seconds = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec * 1e-6 + usage.ru_stime.tv_sec +
                    usage.ru_stime.tv_usec * 1e-6;
  return out;
}

std::string read_text(const fs::path& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return "";
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  std::fclose(f);
  return out;
}

// Shards the collection at `root` into `store`; exits on failure.
ChildRun shard(const fs::path& root, const fs::path& store, int64_t memory_mb, int64_t workers,
               int64_t level, int64_t shards = 1) {
  fs::path log = store.string() + ".log";
  ChildRun r =
      run_child({testing::gst_binary(), "shard", "--input", root.string(), "--collection",
                 "layout:xla:random", "--out", store.string(), "--shards", std::to_string(shards),
                 "--workers", std::to_string(workers), "--memory-mb", std::to_string(memory_mb),
                 "--compression", std::to_string(level), "--overwrite"},
                log);
  if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
    die("gst shard failed:\n" + read_text(log));
  // The summary line ends "..., 12.3 s (0.1 graphs/s, ...)".
  std::string text = read_text(log);
  size_t at = text.rfind(" s (");
  size_t from = text.rfind(' ', at - 1);
  if (at == std::string::npos || from == std::string::npos) die("no summary line:\n" + text);
  r.stage_seconds = std::atof(text.substr(from + 1, at - from - 1).c_str());
  return r;
}

// Checks 32 sampled configs of every segment against the generator.
void check_store(const fs::path& store_dir, const BigGraph& g, std::mt19937_64& rng) {
  auto store = SegmentStore::open(store_dir);
  std::vector<int64_t> original = store->load_original_node_ids(0);
  const GraphEntry& e = store->graphs()[0];
  std::vector<int64_t> configs;
  for (int k = 0; k < 32; ++k) configs.push_back(static_cast<int64_t>(rng() % g.configs));
  for (int64_t s = 0; s < e.num_segments(); ++s) {
    Segment seg = store->load_segment(0, s, configs);
    const int64_t m = static_cast<int64_t>(seg.config_nodes.size());
    for (int64_t j = 0; j < m; ++j) {
      int64_t node = original[seg.first_node + seg.config_nodes[j]];
      int64_t col = (node * g.config_nodes + g.nodes - 1) / g.nodes;  // inverse of config_node
      if (g.config_node(col) != node) die("a configurable node of the store is not one of ours");
      for (size_t k = 0; k < configs.size(); ++k)
        for (int d = 0; d < kLayoutConfigDim; ++d)
          if (seg.config_feat[(k * m + j) * kLayoutConfigDim + d] !=
              config_value(configs[k], col, d))
            die("the store holds a wrong config value");
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t nodes = testing::int_arg(argc, argv, "--nodes", 20000);
  const int64_t config_nodes = testing::int_arg(argc, argv, "--config-nodes", 2734);
  const int64_t memory_mb = testing::int_arg(argc, argv, "--memory-mb", 1024);
  const std::vector<int64_t> worker_counts = list_arg(argc, argv, "--workers", "1");
  if (worker_counts.empty()) die("--workers: expected one or more worker counts");
  const int64_t level =
      testing::int_arg(argc, argv, "--compression", ShardOptions{}.compression_level);
  const bool stored = testing::int_arg(argc, argv, "--stored", 0) != 0;
  const int64_t reads = testing::int_arg(argc, argv, "--reads", 200);
  const int64_t graphs = testing::int_arg(argc, argv, "--graphs", 1);
  testing::ScratchDir dir("shard_scale_bench");
  std::mt19937_64 rng(11);

  for (int64_t mb : list_arg(argc, argv, "--sizes-mb", "512,2048")) {
    const int64_t row_bytes = config_nodes * kLayoutConfigDim * 4;
    BigGraph g{nodes, config_nodes, std::max<int64_t>(1, mb * 1000000 / row_bytes)};
    fs::path root = dir / "data", file = root / "train" / "big.npz";
    auto t = Clock::now();
    write_big_graph(file, g, !stored);
    for (int64_t k = 1; k < graphs; ++k)  // more of the same graph, one per shard
      fs::copy_file(file, root / "train" / ("big" + std::to_string(k) + ".npz"));
    double write_s = seconds_since(t);
    const double config_mb = graphs * g.configs * row_bytes / 1e6,
                 file_mb = graphs * fs::file_size(file) / 1e6;
    const auto [reader, reader_cpu] = npz_reader_rate(file, g);
    double first_stage_s = 0;
    for (int64_t workers : worker_counts) {
      ChildRun r = shard(root, dir / "store", memory_mb, workers, level, graphs);
      check_store(dir / "store", g, rng);
      fs::remove_all(dir / "store");
      if (first_stage_s == 0) first_stage_s = r.stage_seconds;
      std::printf(
          "%lld x node_config_feat %.0f MB [%lld, %lld, 18], %s npz %.0f MB (written in %.1f s): "
          "gst shard --shards %lld --memory-mb %lld --workers %lld --compression %lld: %.1f s "
          "(%.1f s in the stage, %.2fx the first worker count's), input %.1f MB/s, decompressed "
          "%.0f MB/s (%.0f in the stage), peak RSS %.0f MB; npz reader %.0f MB/s; shard / reader "
          "%.2f (%.2f in the stage); per CPU second: shard %.0f MB (%.1f CPU s), reader %.0f MB, "
          "shard / reader %.2f\n",
          static_cast<long long>(graphs), config_mb / graphs, static_cast<long long>(g.configs),
          static_cast<long long>(config_nodes), stored ? "stored" : "deflated", file_mb / graphs,
          write_s, static_cast<long long>(graphs), static_cast<long long>(memory_mb),
          static_cast<long long>(workers), static_cast<long long>(level), r.seconds,
          r.stage_seconds, first_stage_s / r.stage_seconds, file_mb / r.seconds,
          config_mb / r.seconds, config_mb / r.stage_seconds, r.peak_rss_mb, reader,
          config_mb / r.seconds / reader, config_mb / r.stage_seconds / reader,
          config_mb / r.cpu_seconds, r.cpu_seconds, reader_cpu,
          config_mb / r.cpu_seconds / reader_cpu);
      std::fflush(stdout);
    }
    fs::remove_all(root);
  }

  for (int64_t configs : list_arg(argc, argv, "--read-configs", "1000,10000,100000")) {
    BigGraph g{1000, 150, configs};
    fs::path root = dir / "reads", store_dir = dir / "read-store";
    write_big_graph(root / "train" / "g.npz", g, true);
    shard(root, store_dir, memory_mb, worker_counts[0], level);
    check_store(store_dir, g, rng);
    auto sample = [&] {
      std::vector<int64_t> c;
      for (int k = 0; k < 32; ++k) c.push_back(static_cast<int64_t>(rng() % configs));
      return c;
    };
    std::vector<double> warm, cold;
    {
      auto store = SegmentStore::open(store_dir);
      store->load_segment(0, 0, sample());  // warm-up, excluded
      for (int64_t i = 0; i < reads; ++i) {
        auto t = Clock::now();
        Segment seg = store->load_segment(0, 0, sample());
        warm.push_back(seconds_since(t) * 1e3);
        if (seg.num_nodes != 1000 || seg.config_feat.size() != 32 * 150 * kLayoutConfigDim)
          die("wrong segment shape");
      }
    }
    for (int64_t i = 0; i < std::max<int64_t>(reads / 10, 5); ++i) {
      for (const auto& e : fs::directory_iterator(store_dir))
        testing::evict_from_page_cache(e.path());
      auto t = Clock::now();
      auto store = SegmentStore::open(store_dir);
      store->load_segment(0, 0, sample());
      cold.push_back(seconds_since(t) * 1e3);
    }
    std::printf(
        "32 of %lld configs of a 1000-node segment (150 configurable nodes, store %.1f MB): warm "
        "median %.2f ms, p99 %.2f ms; cold (evicted, reopened) median %.2f ms, p99 %.2f ms\n",
        static_cast<long long>(configs), fs::file_size(store_dir / "shard-00000.h5") / 1e6,
        testing::percentile(warm, 0.5), testing::percentile(warm, 0.99),
        testing::percentile(cold, 0.5), testing::percentile(cold, 0.99));
    std::fflush(stdout);
    fs::remove_all(store_dir);
    fs::remove_all(root);
  }
  return 0;
}
