// npz read throughput: gst's read_npz against numpy's np.load on the same files (stored and
// deflated layout graphs), in MB/s of decompressed array data, warm page cache, warm-up excluded.
// Two figures per reader: wall clock (best pass) and CPU time (user + system, mean pass); the
// latter is the fair one on a machine shared with other work. Fails (exit 1) if gst reads a
// wrong value or numpy sees different totals.
//
// Usage: npz_read_bench [--mb TOTAL_MB] [--repeats R]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "data/graph_io.h"
#include "data/npz.h"
#include "data/synth.h"
#include "test_support.h"

namespace {

using gst::NpzArrays;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int64_t data_bytes(const NpzArrays& arrays) {
  int64_t n = 0;
  for (const auto& [key, a] : arrays) n += static_cast<int64_t>(a.bytes.size());
  return n;
}

double cpu_seconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

struct Result {
  double seconds = 1e30;  // best pass, wall clock
  double cpu = 0;         // mean pass, CPU time
  int64_t bytes = 0;      // per pass
  double mb_per_s() const { return bytes / seconds / 1e6; }
  double cpu_mb_per_s() const { return bytes / cpu / 1e6; }
};

// Runs `repeats` timed passes of `pass` (which returns the bytes it read).
template <typename F>
Result time_passes(int repeats, F&& pass) {
  Result r;
  double cpu_start = cpu_seconds();
  for (int rep = 0; rep < repeats; ++rep) {
    auto start = std::chrono::steady_clock::now();
    r.bytes = pass();
    r.seconds = std::min(r.seconds, seconds_since(start));
  }
  r.cpu = (cpu_seconds() - cpu_start) / repeats;
  return r;
}

// gst: one warm-up pass (checked against the originals), then `repeats` timed passes.
Result time_gst(const std::vector<std::filesystem::path>& files,
                const std::vector<NpzArrays>& originals, int repeats) {
  for (size_t i = 0; i < files.size(); ++i) {
    NpzArrays got = gst::read_npz(files[i]);
    for (const auto& [key, a] : originals[i]) {
      auto it = got.find(key);
      if (it == got.end() || it->second.shape != a.shape || it->second.dtype != a.dtype ||
          it->second.bytes != a.bytes) {
        std::fprintf(stderr, "FAIL: %s: array %s read wrong\n", files[i].c_str(), key.c_str());
        std::exit(1);
      }
    }
  }
  return time_passes(repeats, [&] {
    int64_t bytes = 0;
    for (const auto& f : files) bytes += data_bytes(gst::read_npz(f));
    return bytes;
  });
}

// The same with read_graph: typed reads plus validation, as gst's loaders use it.
Result time_read_graph(const std::vector<std::filesystem::path>& files, int repeats) {
  for (const auto& f : files) gst::read_graph(f, gst::Task::Layout);
  return time_passes(repeats, [&] {
    int64_t bytes = 0;
    for (const auto& f : files) {
      gst::Graph g = gst::read_graph(f, gst::Task::Layout);
      bytes += g.node_feat.size() * 4 + g.node_opcode.size() + g.edges.size() * 8 +
               g.config_node_ids.size() * 8 + g.config_feat.size() * 4 + g.runtime.size() * 8 +
               g.node_splits.size() * 8;
    }
    return bytes;
  });
}

Result time_numpy(const std::vector<std::filesystem::path>& files, int repeats) {
  std::string args = std::to_string(repeats);
  for (const auto& f : files) args += " " + f.string();
  auto out = gst::testing::run_python(R"(
import sys, time, numpy as np
repeats, files = int(sys.argv[1]), sys.argv[2:]
def one_pass():
    total = 0
    for f in files:
        with np.load(f) as d:
            for k in d.files:
                total += d[k].nbytes
    return total
one_pass()  # warm-up
best, cpu_start = 1e30, time.process_time()
for _ in range(repeats):
    start = time.perf_counter()
    total = one_pass()
    best = min(best, time.perf_counter() - start)
print('numpy', total, best, (time.process_time() - cpu_start) / repeats)
)",
                                      args);
  Result r;
  long long bytes = 0;
  const char* at = std::strstr(out.output.c_str(), "numpy ");
  if (out.exit_code != 0 || !at ||
      std::sscanf(at, "numpy %lld %lf %lf", &bytes, &r.seconds, &r.cpu) != 3) {
    std::fprintf(stderr, "FAIL: numpy run failed:\n%s\n", out.output.c_str());
    std::exit(1);
  }
  r.bytes = bytes;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  double total_mb = 300;
  int repeats = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--mb") total_mb = std::atof(argv[i + 1]);
    if (std::string(argv[i]) == "--repeats") repeats = std::atoi(argv[i + 1]);
  }
  gst::testing::ScratchDir dir("npz-bench");

  // Layout graphs of 5k-20k nodes with 300 configs until the total reaches total_mb.
  gst::SynthOptions options;
  options.configs = 300;
  std::vector<NpzArrays> originals;
  std::vector<std::filesystem::path> stored, compressed;
  double mb = 0;
  for (uint64_t seed = 0; mb < total_mb; ++seed) {
    gst::Graph g = gst::synth_graph(options, gst::Task::Layout, seed, 5000 + 5000 * (seed % 4));
    originals.push_back(gst::graph_to_npz(g));
    mb += data_bytes(originals.back()) / 1e6;
    stored.push_back(dir / ("s" + std::to_string(seed) + ".npz"));
    compressed.push_back(dir / ("c" + std::to_string(seed) + ".npz"));
    gst::write_npz(stored.back(), originals.back(), false);
    gst::write_npz(compressed.back(), originals.back(), true);
  }
  std::printf("npz read benchmark: %zu layout graphs, %.1f MB of array data, %d timed passes\n",
              originals.size(), mb, repeats);
  std::printf("%-8s %-5s %10s %11s %7s %21s\n", "entries", "time", "gst MB/s", "numpy MB/s",
              "ratio", "gst read_graph MB/s");
  for (bool deflate : {false, true}) {
    const auto& files = deflate ? compressed : stored;
    Result g = time_gst(files, originals, repeats);
    Result n = time_numpy(files, repeats);
    Result rg = time_read_graph(files, repeats);
    if (n.bytes != g.bytes) {
      std::fprintf(stderr, "FAIL: numpy read %lld bytes, gst %lld\n", (long long)n.bytes,
                   (long long)g.bytes);
      return 1;
    }
    const char* kind = deflate ? "deflate" : "stored";
    std::printf("%-8s %-5s %10.0f %11.0f %6.2fx %21.0f\n", kind, "wall", g.mb_per_s(), n.mb_per_s(),
                g.mb_per_s() / n.mb_per_s(), rg.mb_per_s());
    std::printf("%-8s %-5s %10.0f %11.0f %6.2fx %21.0f\n", kind, "cpu", g.cpu_mb_per_s(),
                n.cpu_mb_per_s(), g.cpu_mb_per_s() / n.cpu_mb_per_s(), rg.cpu_mb_per_s());
  }
  return 0;
}
