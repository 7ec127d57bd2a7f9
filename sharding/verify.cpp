#include "sharding/verify.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "common/enum_names.h"
#include "common/errors.h"
#include "store/checksum.h"
#include "store/chunk_codec.h"
#include "store/hdf5.h"
#include "store/manifest.h"
#include "store/schema.h"

namespace gst {
namespace {

namespace fs = std::filesystem;

// Problems of one graph, prefixed with where they are.
class Problems {
 public:
  Problems(std::vector<std::string>* out, std::string where)
      : out_(out), where_(std::move(where)) {}
  template <typename... Args>
  void add(fmt::format_string<Args...> format, Args&&... args) {
    out_->push_back(where_ + ": " + fmt::format(format, std::forward<Args>(args)...));
  }
  // Adds a problem unless `ok`; returns ok.
  template <typename... Args>
  bool expect(bool ok, fmt::format_string<Args...> format, Args&&... args) {
    if (!ok) add(format, std::forward<Args>(args)...);
    return ok;
  }

 private:
  std::vector<std::string>* out_;
  std::string where_;
};

template <typename T>
std::vector<T> read(hid_t group, const char* name, const std::vector<int64_t>& expected,
                    Problems& p) {
  std::vector<int64_t> shape;
  std::vector<T> values = h5::read_all<T>(group, name, &shape);
  if (shape != expected) {
    p.add("{} has shape [{}], expected [{}]", name, fmt::join(shape, ", "),
          fmt::join(expected, ", "));
    return {};
  }
  return values;
}

bool is_permutation_of_range(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i] != static_cast<int64_t>(i)) return false;
  return true;
}

bool runtimes_ok(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [](double r) { return std::isfinite(r) && r >= 0; });
}

// The graph group's attributes and graph-level arrays against the manifest entry.
void verify_graph_group(hid_t group, const Manifest& m, const GraphEntry& g, Problems& p) {
  const int64_t N = g.num_nodes, C = g.num_configs, M = g.num_config_nodes, S = g.num_segments();
  p.expect(h5::read_attr_string(group, schema::kAttrId) == g.id, "id attribute differs");
  p.expect(h5::read_attr_int(group, schema::kAttrIndex) == g.index, "index attribute differs");
  p.expect((h5::read_attr_int(group, schema::kAttrHasRuntime) != 0) == g.has_runtime,
           "has_runtime attribute differs");
  for (auto [name, want] : {std::pair{schema::kAttrNumNodes, N},
                            {schema::kAttrNumEdges, g.num_edges},
                            {schema::kAttrNumConfigs, C},
                            {schema::kAttrNumConfigNodes, M},
                            {schema::kAttrNumSegments, S}}) {
    int64_t got = h5::read_attr_int(group, name);
    p.expect(got == want, "attribute {} is {}, the manifest says {}", name, got, want);
  }
  p.expect(read<int64_t>(group, schema::kSegmentOffsets, {S + 1}, p) == g.segment_offsets,
           "segment_offsets differ from the manifest");
  p.expect(is_permutation_of_range(read<int64_t>(group, schema::kOriginalNodeId, {N}, p)),
           "original_node_id is not a permutation of 0..N-1");
  p.expect(runtimes_ok(read<double>(group, schema::kRuntime, {C}, p)),
           "runtime has NaN, Inf or negative values");
  if (m.task == Task::Layout) {
    p.expect(is_permutation_of_range(read<int64_t>(group, schema::kConfigNodeOrder, {M}, p)),
             "config_node_order is not a permutation of 0..M-1");
  } else {
    p.expect(runtimes_ok(read<double>(group, schema::kRuntimeNormalizer, {C}, p)),
             "runtime_normalizer has NaN, Inf or negative values");
    read<float>(group, schema::kTileConfigFeat, {C, kTileConfigDim}, p);
  }
}

// What the segments of a graph hold, summed, to compare with the graph's counts.
struct SegmentTotals {
  int64_t local_edges = 0, cross_entries = 0, config_nodes = 0;
};

// Segment s: its arrays' shapes and ranges; adds its edges and configurable nodes to `totals`.
void verify_segment(hid_t seg, const Manifest& m, const GraphEntry& g, int64_t s, Problems& p,
                    SegmentTotals& totals) {
  const int64_t first = g.segment_offsets[s], n = g.segment_offsets[s + 1] - first;
  read<float>(seg, schema::kNodeFeat, {n, kNodeFeatureDim}, p);
  auto ops = read<uint8_t>(seg, schema::kNodeOpcode, {n}, p);
  p.expect(std::all_of(ops.begin(), ops.end(), [](uint8_t o) { return o < kNumOpcodes; }),
           "segment {}: node_opcode outside 0..{}", s, kNumOpcodes - 1);
  std::vector<int64_t> shape;
  auto edges = h5::read_all<int32_t>(seg, schema::kEdges, &shape);
  if (p.expect(shape.size() == 2 && shape[1] == 2, "segment {}: edges is not [e, 2]", s)) {
    totals.local_edges += shape[0];
    p.expect(std::all_of(edges.begin(), edges.end(), [&](int32_t v) { return v >= 0 && v < n; }),
             "segment {}: a local edge end is outside 0..{}", s, n - 1);
  }
  auto cross = h5::read_all<int64_t>(seg, schema::kCrossEdges, &shape);
  if (p.expect(shape.size() == 2 && shape[1] == 2, "segment {}: cross_edges is not [x, 2]", s)) {
    totals.cross_entries += shape[0];
    auto inside = [&](int64_t v) { return v >= first && v < first + n; };
    bool ok = true;
    for (size_t e = 0; e + 1 < cross.size(); e += 2) {
      int64_t a = cross[e], b = cross[e + 1];
      ok = ok && a >= 0 && a < g.num_nodes && b >= 0 && b < g.num_nodes && inside(a) != inside(b);
    }
    p.expect(ok, "segment {}: a cross edge does not have exactly one end in the segment", s);
  }
  if (m.task != Task::Layout) return;
  auto ids = h5::read_all<int32_t>(seg, schema::kConfigNodes, &shape);
  int64_t mk = static_cast<int64_t>(ids.size());
  totals.config_nodes += mk;
  bool ok = std::all_of(ids.begin(), ids.end(), [&](int32_t v) { return v >= 0 && v < n; }) &&
            std::is_sorted(ids.begin(), ids.end());
  p.expect(ok, "segment {}: config_nodes not ascending in 0..{}", s, n - 1);
  read<float>(seg, schema::kConfigFeat, {g.num_configs, mk, kLayoutConfigDim}, p);
  const std::string places = check_chunk_places(seg, schema::kConfigFeat);
  p.expect(places.empty(), "segment {}: {}", s, places);
}

void verify_graph(hid_t file, const Manifest& m, const GraphEntry& g, VerifyReport* report) {
  Problems p(&report->problems, fmt::format("shard {} graph '{}' ({})", g.shard, g.id, g.split));
  std::string path = schema::graph_path(g.split, g.id);
  if (!h5::exists(file, path)) return p.add("group {} is missing", path);
  verify_graph_group(h5::open_group(file, path), m, g, p);
  SegmentTotals totals;
  for (int64_t s = 0; s < g.num_segments(); ++s) {
    ++report->segments;
    std::string seg_path = schema::segment_path(g.split, g.id, s);
    if (!h5::exists(file, seg_path)) {
      p.add("segment {} is missing", s);
      continue;
    }
    verify_segment(h5::open_group(file, seg_path), m, g, s, p, totals);
  }
  p.expect(totals.cross_entries % 2 == 0 && totals.cross_entries / 2 == g.cut_edges,
           "{} cross-edge entries, the manifest says {} cut edges (each listed twice)",
           totals.cross_entries, g.cut_edges);
  p.expect(totals.local_edges + totals.cross_entries / 2 == g.num_edges,
           "{} local + {} cut edges, the graph has {}", totals.local_edges,
           totals.cross_entries / 2, g.num_edges);
  if (m.task == Task::Layout)
    p.expect(totals.config_nodes == g.num_config_nodes,
             "{} configurable nodes in segments, the graph has {}", totals.config_nodes,
             g.num_config_nodes);
}

void verify_shard(const fs::path& dir, const Manifest& m, int shard, VerifyReport* report) {
  const ShardInfo& info = m.shards[shard];
  fs::path path = dir / info.file;
  Problems p(&report->problems, fmt::format("shard {} ({})", shard, path.string()));
  std::error_code ec;
  if (!fs::exists(path, ec)) return p.add("file is missing");
  int64_t bytes = static_cast<int64_t>(fs::file_size(path, ec));
  report->bytes += bytes;
  p.expect(bytes == info.bytes, "size is {} bytes, the manifest says {}", bytes, info.bytes);
  std::string checksum = file_checksum(path);
  p.expect(checksum == info.checksum, "checksum {} differs from the manifest's {}", checksum,
           info.checksum);
  h5::Handle file;
  try {
    file = h5::open_file_read(path.string());
    p.expect(h5::read_attr_string(file, schema::kAttrFormat) == schema::kFormat,
             "not a gst segment store shard");
    int64_t version = h5::read_attr_int(file, schema::kAttrFormatVersion);
    p.expect(version == kStoreFormatVersion, "format version {}, expected {}", version,
             kStoreFormatVersion);
    p.expect(h5::read_attr_string(file, schema::kAttrTask) == to_string(m.task),
             "task differs from the manifest");
    p.expect(h5::read_attr_int(file, schema::kAttrShard) == shard, "shard attribute differs");
    int64_t graphs = h5::read_attr_int(file, schema::kAttrNumGraphs);
    p.expect(graphs == static_cast<int64_t>(info.graphs.size()),
             "holds {} graphs, the manifest lists {}", graphs, info.graphs.size());
  } catch (const Error& e) {
    return p.add("cannot be read: {}", e.what());
  }
  for (int64_t index : info.graphs) {
    ++report->graphs;
    const GraphEntry& g = m.graphs[index];
    try {
      verify_graph(file, m, g, report);
    } catch (const Error& e) {
      p.add("graph '{}' cannot be read: {}", g.id, e.what());
    }
  }
}

}  // namespace

VerifyReport verify_store(const fs::path& dir) {
  VerifyReport report;
  Manifest m;
  try {
    m = Manifest::read(dir);
  } catch (const Error& e) {
    report.problems.push_back(e.what());
    return report;
  }
  Problems p(&report.problems, (dir / schema::kManifestFile).string());
  std::map<std::string, int64_t> counts;
  for (const auto& g : m.graphs) ++counts[g.split];
  for (const auto& [split, n] : m.split_counts)
    p.expect(counts[split] == n, "split_counts[{}] is {}, {} graphs listed", split, n,
             counts[split]);
  std::vector<int> listed(m.graphs.size(), 0);
  for (const auto& s : m.shards)
    for (int64_t g : s.graphs) ++listed[g];
  for (size_t g = 0; g < listed.size(); ++g)
    p.expect(listed[g] == 1, "graph '{}' is listed by {} shards", m.graphs[g].id, listed[g]);
  int64_t total = 0, cut = 0;
  for (const auto& g : m.graphs) {
    total += g.num_edges;
    cut += g.cut_edges;
  }
  p.expect(total == m.total_edges && cut == m.cut_edges, "edge totals differ from the graph list");
  for (int s = 0; s < static_cast<int>(m.shards.size()); ++s) {
    ++report.shards;
    verify_shard(dir, m, s, &report);
  }
  return report;
}

}  // namespace gst
