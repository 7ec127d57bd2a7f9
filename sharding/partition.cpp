#include "sharding/partition.h"

#include <metis.h>

#include <algorithm>
#include <mutex>
#include <numeric>

#include "common/errors.h"

// Checked METIS call: names the call, its location and the METIS status.
#define GST_METIS(call)                                                          \
  do {                                                                           \
    int gst_metis_status = (call);                                               \
    if (gst_metis_status != METIS_OK)                                            \
      ::gst::fail("METIS call {} failed ({}:{}): {}", #call, __FILE__, __LINE__, \
                  ::gst::metis_status_text(gst_metis_status));                   \
  } while (0)

namespace gst {
namespace {

const char* metis_status_text(int status) {
  switch (status) {
    case METIS_ERROR_INPUT:
      return "METIS_ERROR_INPUT (invalid input graph)";
    case METIS_ERROR_MEMORY:
      return "METIS_ERROR_MEMORY (out of memory)";
    case METIS_ERROR:
      return "METIS_ERROR";
    default:
      return "unknown status";
  }
}

}  // namespace

std::vector<int64_t> Partition::renumbering() const {
  std::vector<int64_t> renumbered(original_id.size());
  for (size_t i = 0; i < original_id.size(); ++i) renumbered[original_id[i]] = i;
  return renumbered;
}

Partition partition_contiguous(int64_t num_nodes, int64_t segment_size) {
  GST_CHECK(num_nodes > 0 && segment_size > 0, "cannot partition {} nodes into segments of {}",
            num_nodes, segment_size);
  Partition p;
  p.original_id.resize(num_nodes);
  std::iota(p.original_id.begin(), p.original_id.end(), 0);
  for (int64_t start = 0; start < num_nodes; start += segment_size) p.offsets.push_back(start);
  p.offsets.push_back(num_nodes);
  return p;
}

namespace {

// Symmetric adjacency in CSR without self loops or repeated neighbours, as METIS requires.
void undirected_csr(int64_t num_nodes, const std::vector<int64_t>& edges, std::vector<idx_t>* xadj,
                    std::vector<idx_t>* adjncy) {
  std::vector<std::pair<idx_t, idx_t>> pairs;
  pairs.reserve(edges.size());
  for (size_t e = 0; e + 1 < edges.size(); e += 2) {
    idx_t a = static_cast<idx_t>(edges[e]), b = static_cast<idx_t>(edges[e + 1]);
    if (a == b) continue;
    pairs.emplace_back(a, b);
    pairs.emplace_back(b, a);
  }
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  xadj->assign(num_nodes + 1, 0);
  adjncy->resize(pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    ++(*xadj)[pairs[i].first + 1];
    (*adjncy)[i] = pairs[i].second;
  }
  for (int64_t v = 0; v < num_nodes; ++v) (*xadj)[v + 1] += (*xadj)[v];
}

// GKlib keeps its random state process-wide: calls are serialized so results stay deterministic.
std::mutex& metis_mutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace

Partition partition_metis(int64_t num_nodes, const std::vector<int64_t>& edges,
                          int64_t segment_size) {
  GST_CHECK(num_nodes > 0 && segment_size > 0, "cannot partition {} nodes into segments of {}",
            num_nodes, segment_size);
  GST_CHECK(num_nodes < (int64_t{1} << 31) - 1, "graph of {} nodes exceeds METIS's 32-bit ids",
            num_nodes);
  int64_t parts = (num_nodes + segment_size - 1) / segment_size;
  std::vector<idx_t> xadj, adjncy;
  undirected_csr(num_nodes, edges, &xadj, &adjncy);
  // One part, or no edges to cut: METIS has nothing to optimize.
  if (parts == 1 || adjncy.empty()) return partition_contiguous(num_nodes, segment_size);

  idx_t nvtxs = static_cast<idx_t>(num_nodes), ncon = 1, nparts = static_cast<idx_t>(parts);
  idx_t objval = 0;
  idx_t options[METIS_NOPTIONS];
  std::vector<idx_t> part(num_nodes);
  {
    std::lock_guard<std::mutex> guard(metis_mutex());
    GST_METIS(METIS_SetDefaultOptions(options));
    options[METIS_OPTION_OBJTYPE] = METIS_OBJTYPE_CUT;
    options[METIS_OPTION_NUMBERING] = 0;
    options[METIS_OPTION_SEED] = 1;
    GST_METIS(METIS_PartGraphKway(&nvtxs, &ncon, xadj.data(), adjncy.data(), nullptr, nullptr,
                                  nullptr, &nparts, nullptr, nullptr, options, &objval,
                                  part.data()));
  }
  Partition p;
  p.original_id.resize(num_nodes);
  std::iota(p.original_id.begin(), p.original_id.end(), 0);
  std::stable_sort(p.original_id.begin(), p.original_id.end(),
                   [&](int64_t a, int64_t b) { return part[a] < part[b]; });
  p.offsets.push_back(0);
  for (int64_t i = 1; i < num_nodes; ++i)
    if (part[p.original_id[i]] != part[p.original_id[i - 1]]) p.offsets.push_back(i);
  p.offsets.push_back(num_nodes);
  return p;
}

Partition partition_graph(const Graph& graph, Partitioner partitioner, int64_t segment_size) {
  return partitioner == Partitioner::Contiguous
             ? partition_contiguous(graph.num_nodes, segment_size)
             : partition_metis(graph.num_nodes, graph.edges, segment_size);
}

int64_t count_cut_edges(const Partition& partition, const std::vector<int64_t>& edges) {
  std::vector<int32_t> segment_of(partition.original_id.size());
  for (int64_t s = 0; s < partition.num_segments(); ++s)
    for (int64_t i = partition.offsets[s]; i < partition.offsets[s + 1]; ++i)
      segment_of[partition.original_id[i]] = static_cast<int32_t>(s);
  int64_t cut = 0;
  for (size_t e = 0; e + 1 < edges.size(); e += 2)
    cut += segment_of[edges[e]] != segment_of[edges[e + 1]];
  return cut;
}

}  // namespace gst
