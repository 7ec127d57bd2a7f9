// Names in the HDF5 shard files, shared by the shard writer, the reader and verify.
// The layout is documented, with its version, in src/store/README.md.
#pragma once

#include <cstdio>
#include <string>

#include "data/graph.h"

namespace gst::schema {

constexpr const char* kFormat = "gst-segment-store";
constexpr const char* kManifestFile = "manifest.json";

// Shard file root attributes.
constexpr const char* kAttrFormat = "format";
constexpr const char* kAttrFormatVersion = "format_version";
constexpr const char* kAttrTask = "task";
constexpr const char* kAttrShard = "shard";
constexpr const char* kAttrNumGraphs = "num_graphs";

// Per-graph group attributes and datasets.
constexpr const char* kAttrId = "id";
constexpr const char* kAttrSplit = "split";
constexpr const char* kAttrIndex = "index";
constexpr const char* kAttrNumNodes = "num_nodes";
constexpr const char* kAttrNumEdges = "num_edges";
constexpr const char* kAttrNumConfigs = "num_configs";
constexpr const char* kAttrNumConfigNodes = "num_config_nodes";
constexpr const char* kAttrNumSegments = "num_segments";
constexpr const char* kAttrHasRuntime = "has_runtime";            // 0: unlabeled, runtimes all zero
constexpr const char* kSegmentOffsets = "segment_offsets";        // [S+1] i64
constexpr const char* kOriginalNodeId = "original_node_id";       // [N] i64
constexpr const char* kConfigNodeOrder = "config_node_order";     // [M] i64 (layout)
constexpr const char* kRuntime = "runtime";                       // [C] f64
constexpr const char* kRuntimeNormalizer = "runtime_normalizer";  // [C] f64 (tile)
constexpr const char* kTileConfigFeat = "config_feat";            // [C, 24] f32 (tile)
constexpr const char* kNodeSplits = "node_splits";                // [P] i64, original ids
constexpr const char* kSegments = "segments";

// Per-segment datasets (group segments/<s>).
constexpr const char* kNodeFeat = "node_feat";        // [n, 140] f32
constexpr const char* kNodeOpcode = "node_opcode";    // [n] u8
constexpr const char* kEdges = "edges";               // [e, 2] i32 local (source, target)
constexpr const char* kCrossEdges = "cross_edges";    // [x, 2] i64 graph ids, one end outside
constexpr const char* kConfigNodes = "config_nodes";  // [m] i32 local (layout)
constexpr const char* kConfigFeat = "config_feat";    // [C, m, 18] i8 codes or f32 (layout)
// Beside config_feat: config_feat_chunks [chunks, 2] u64, each chunk's file offset and stored
// bytes (create_chunk_places in chunk_codec.h).
inline std::string chunk_places_name(const std::string& dataset) { return dataset + "_chunks"; }

// The task as written in shard attributes and the manifest.

inline std::string graph_path(const std::string& split, const std::string& id) {
  return "graphs/" + split + "/" + id;
}
inline std::string segment_path(const std::string& split, const std::string& id, long segment) {
  return graph_path(split, id) + "/" + kSegments + "/" + std::to_string(segment);
}
inline std::string shard_file_name(int shard) {
  char name[32];
  std::snprintf(name, sizeof(name), "shard-%05d.h5", shard);
  return name;
}

}  // namespace gst::schema
