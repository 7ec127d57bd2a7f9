#include "sharding/shard_writer.h"

#include <algorithm>

#include "common/enum_names.h"
#include "store/manifest.h"
#include "store/schema.h"

namespace gst {

int64_t config_chunk_rows(int64_t config_nodes) {
  int64_t row_bytes = std::max<int64_t>(config_nodes, 1) * kLayoutConfigDim * sizeof(float);
  return std::max<int64_t>(1, kConfigChunkBytes / row_bytes);
}

namespace {

void add_dataset(EncodedGroup* group, EncodedDataset dataset) {
  group->datasets.push_back(std::move(dataset));
}

// A segment's config_feat [C, m, 18], as int8 where its values allow (narrow_to_int8).
EncodedDataset encode_config_feat(const std::vector<float>& values, int64_t configs, int64_t m,
                                  int level) {
  std::vector<int64_t> shape{configs, m, kLayoutConfigDim};
  std::vector<int8_t> codes(values.size());
  EncodedDataset out =
      narrow_to_int8(values.data(), values.size(), codes.data())
          ? encode_dataset(schema::kConfigFeat, codes, shape, config_chunk_rows(m), level)
          : encode_dataset(schema::kConfigFeat, values, shape, config_chunk_rows(m), level);
  out.chunk_places = true;  // a step reads a few sampled configs
  return out;
}

}  // namespace

EncodedGraph encode_graph(const SegmentedGraph& g, int64_t index, int level,
                          bool config_feat_streamed) {
  namespace s = schema;
  EncodedGraph out;
  EncodedGroup graph;
  graph.path = s::graph_path(g.split, g.id);
  graph.string_attrs = {{s::kAttrId, g.id}, {s::kAttrSplit, g.split}};
  graph.int_attrs = {{s::kAttrIndex, index},
                     {s::kAttrNumNodes, g.num_nodes},
                     {s::kAttrNumEdges, g.num_edges},
                     {s::kAttrNumConfigs, g.num_configs},
                     {s::kAttrNumConfigNodes, g.num_config_nodes},
                     {s::kAttrNumSegments, static_cast<int64_t>(g.segments.size())},
                     {s::kAttrHasRuntime, g.has_runtime ? 1 : 0}};
  const int64_t S = static_cast<int64_t>(g.segments.size());
  const int64_t C = g.num_configs;
  add_dataset(&graph, encode_dataset(s::kSegmentOffsets, g.offsets, {S + 1}, 0, 0));
  add_dataset(&graph,
              encode_dataset(s::kOriginalNodeId, g.original_node_id, {g.num_nodes}, 0, level));
  add_dataset(&graph, encode_dataset(s::kRuntime, g.runtime, {C}, 0, level));
  if (g.task == Task::Layout) {
    add_dataset(&graph, encode_dataset(s::kConfigNodeOrder, g.config_node_order,
                                       {g.num_config_nodes}, 0, level));
  } else {
    add_dataset(&graph, encode_dataset(s::kRuntimeNormalizer, g.runtime_normalizer, {C}, 0, level));
    add_dataset(&graph, encode_dataset(s::kTileConfigFeat, g.tile_config_feat, {C, kTileConfigDim},
                                       0, level));
  }
  if (!g.node_splits.empty())
    add_dataset(&graph, encode_dataset(s::kNodeSplits, g.node_splits,
                                       {static_cast<int64_t>(g.node_splits.size())}, 0, 0));
  out.groups.push_back(std::move(graph));

  for (int64_t i = 0; i < S; ++i) {
    const SegmentArrays& a = g.segments[i];
    int64_t n = g.offsets[i + 1] - g.offsets[i];
    EncodedGroup seg;
    seg.path = s::segment_path(g.split, g.id, i);
    // Each per-segment array is one chunk, read in one piece; config_feat is chunked by configs.
    add_dataset(&seg, encode_dataset(s::kNodeFeat, a.node_feat, {n, kNodeFeatureDim}, 0, level));
    add_dataset(&seg, encode_dataset(s::kNodeOpcode, a.node_opcode, {n}, 0, level));
    add_dataset(&seg, encode_dataset(s::kEdges, a.edges,
                                     {static_cast<int64_t>(a.edges.size() / 2), 2}, 0, level));
    add_dataset(&seg,
                encode_dataset(s::kCrossEdges, a.cross_edges,
                               {static_cast<int64_t>(a.cross_edges.size() / 2), 2}, 0, level));
    if (g.task == Task::Layout) {
      int64_t m = static_cast<int64_t>(a.config_nodes.size());
      add_dataset(&seg, encode_dataset(s::kConfigNodes, a.config_nodes, {m}, 0, level));
      // A streamed graph's StreamedConfigWriter creates the dataset once it has seen values.
      if (!config_feat_streamed || m == 0)
        add_dataset(&seg, encode_config_feat(a.config_feat, C, m, level));
    }
    out.groups.push_back(std::move(seg));
  }
  for (const auto& group : out.groups)
    for (const auto& d : group.datasets) {
      out.raw_bytes += d.raw_bytes;
      out.stored_bytes += d.stored_bytes;
    }
  return out;
}

ShardFileWriter::ShardFileWriter(const std::filesystem::path& path, Task task, int shard)
    : path_(path), file_(h5::create_file(path.string())) {
  h5::write_attr_string(file_, schema::kAttrFormat, schema::kFormat);
  h5::write_attr_int(file_, schema::kAttrFormatVersion, kStoreFormatVersion);
  h5::write_attr_string(file_, schema::kAttrTask, std::string(to_string(task)));
  h5::write_attr_int(file_, schema::kAttrShard, shard);
  h5::create_group(file_, "graphs");
}

void ShardFileWriter::add(const EncodedGraph& graph) {
  h5::Guard guard;
  for (const auto& g : graph.groups) {
    h5::Handle group = h5::create_group(file_, g.path);
    for (const auto& [name, value] : g.string_attrs) h5::write_attr_string(group, name, value);
    for (const auto& [name, value] : g.int_attrs) h5::write_attr_int(group, name, value);
    for (const auto& d : g.datasets) write_encoded(group, d);
  }
  ++num_graphs_;
}

void ShardFileWriter::close() {
  h5::write_attr_int(file_, schema::kAttrNumGraphs, num_graphs_);
  file_.close_checked();
}

}  // namespace gst
