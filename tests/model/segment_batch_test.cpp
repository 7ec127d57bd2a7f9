#include "model/segment_batch.h"

#include <gtest/gtest.h>

#include "common/errors.h"

namespace gst {
namespace {

Segment small_segment(int64_t nodes, std::vector<int32_t> edges, std::vector<int32_t> config_nodes,
                      int64_t configs, float tag) {
  Segment s;
  s.num_nodes = nodes;
  s.node_feat.assign(nodes * kNodeFeatureDim, tag);
  s.node_opcode.assign(nodes, static_cast<uint8_t>(tag));
  s.edges = std::move(edges);
  s.config_nodes = std::move(config_nodes);
  for (int64_t c = 0; c < configs; ++c) {
    for (size_t m = 0; m < s.config_nodes.size(); ++m) {
      for (int f = 0; f < kLayoutConfigDim; ++f) s.config_feat.push_back(tag * 100 + c * 10 + m);
    }
  }
  return s;
}

TEST(SegmentBatch, ConcatenatesSegmentsAsDisjointUnion) {
  Segment a = small_segment(3, {0, 1, 1, 2}, {2, 0}, 2, 1);
  Segment b = small_segment(2, {1, 0}, {1}, 2, 2);
  SegmentBatch batch = make_segment_batch({&a, &b}, Task::Layout, 2, torch::kCPU);
  EXPECT_EQ(batch.num_segments, 2);
  EXPECT_EQ(batch.num_configs, 2);
  EXPECT_EQ(batch.segment_offsets, (std::vector<int64_t>{0, 3, 5}));
  EXPECT_TRUE(torch::equal(batch.node_segment, torch::tensor({0, 0, 0, 1, 1}, torch::kInt64)));
  EXPECT_TRUE(
      torch::equal(batch.edges, torch::tensor({0, 1, 4, 1, 2, 3}, torch::kInt64).view({2, 3})));
  EXPECT_TRUE(torch::equal(batch.config_nodes, torch::tensor({2, 0, 4}, torch::kInt64)));
  ASSERT_EQ(batch.config_feat.sizes(), torch::IntArrayRef({2, 3, kLayoutConfigDim}));
  // config c of node m: tag * 100 + c * 10 + m (m local to its segment)
  EXPECT_EQ(batch.config_feat[1][1][0].item<float>(), 111);
  EXPECT_EQ(batch.config_feat[1][2][5].item<float>(), 210);
  EXPECT_EQ(batch.node_feat[4][139].item<float>(), 2);
  EXPECT_EQ(batch.opcode[1].item<int64_t>(), 1);
}

TEST(SegmentBatch, ListsEdgesBetweenConfigurableNodesByPosition) {
  // a: configurable 3, 0, 1 at positions 0, 1, 2; b: configurable 0, 1 at positions 3, 4.
  Segment a = small_segment(4, {0, 1, 1, 2, 2, 3, 0, 3}, {3, 0, 1}, 1, 1);
  Segment b = small_segment(2, {1, 0}, {0, 1}, 1, 2);
  SegmentBatch batch = make_segment_batch({&a, &b}, Task::Layout, 1, torch::kCPU);
  EXPECT_TRUE(torch::equal(batch.config_edges,
                           torch::tensor({1, 1, 4, 2, 0, 3}, torch::kInt64).view({2, 3})));
  // Each edge's rank among its target's in-edges: node 3 of a reads 2, then 0.
  EXPECT_TRUE(torch::equal(batch.operand_index, torch::tensor({0, 0, 0, 1, 0}, torch::kInt64)));
}

TEST(SegmentBatch, TileHasOneConfigAndNoConfigNodes) {
  Segment a = small_segment(3, {0, 1}, {}, 0, 1);
  SegmentBatch batch = make_segment_batch({&a}, Task::Tile, 32, torch::kCPU);
  EXPECT_EQ(batch.num_configs, 1);
  EXPECT_FALSE(batch.config_nodes.defined());
  EXPECT_FALSE(batch.config_feat.defined());
}

TEST(SegmentBatch, RejectsInconsistentSegments) {
  Segment a = small_segment(3, {0, 1}, {1}, 2, 1);
  EXPECT_THROW(make_segment_batch({&a}, Task::Layout, 3, torch::kCPU), Error);  // 2 configs
  Segment bad_edge = small_segment(3, {0, 3}, {1}, 2, 1);
  EXPECT_THROW(make_segment_batch({&bad_edge}, Task::Layout, 2, torch::kCPU), Error);
  Segment bad_node = small_segment(3, {0, 1}, {5}, 2, 1);
  EXPECT_THROW(make_segment_batch({&bad_node}, Task::Layout, 2, torch::kCPU), Error);
  Segment short_feat = small_segment(3, {0, 1}, {1}, 2, 1);
  short_feat.node_feat.pop_back();
  EXPECT_THROW(make_segment_batch({&short_feat}, Task::Layout, 2, torch::kCPU), Error);
  EXPECT_THROW(make_segment_batch({}, Task::Layout, 2, torch::kCPU), Error);
}

}  // namespace
}  // namespace gst
