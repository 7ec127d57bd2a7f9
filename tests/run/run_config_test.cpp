#include "run/run_config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "common/errors.h"
#include "test_support.h"

namespace {

// Every shipped config parses strictly and keeps its comments' promises.
TEST(RunConfig, ShippedConfigsParse) {
  int count = 0;
  for (const auto& e :
       std::filesystem::directory_iterator(gst::testing::source_dir() / "configs")) {
    if (e.path().extension() != ".yaml") continue;
    ++count;
    gst::RunConfig c = gst::load_run_config(e.path(), {});
    EXPECT_FALSE(c.data.store.empty()) << e.path();
    EXPECT_GT(c.train.steps, 0) << e.path();
  }
  EXPECT_GE(count, 8);
  auto fg = gst::load_run_config(gst::testing::source_dir() / "configs/full_graph.yaml", {});
  EXPECT_EQ(fg.gst.mode, gst::GstMode::FullGraph);
  auto ref =
      gst::load_run_config(gst::testing::source_dir() / "configs/layout_xla_random.yaml", {});
  EXPECT_EQ(ref.model.hidden, 256);
  EXPECT_EQ(ref.model.projection, 128);
  EXPECT_EQ(ref.gst.configs_per_graph, 32);
  EXPECT_DOUBLE_EQ(ref.train.lr, 1e-4);
  EXPECT_DOUBLE_EQ(ref.train.slowdown_weight, 0.0);
}

TEST(RunConfig, OverridesAndErrors) {
  gst::testing::ScratchDir dir("runconfig");
  const auto file = dir / "run.yaml";
  std::ofstream(file) << "data:\n  store: s\ngst:\n  sed_p: 0.3\n";
  auto c = gst::load_run_config(file, {"gst.mode=segment_only", "train.steps=5"});
  EXPECT_EQ(c.gst.mode, gst::GstMode::SegmentOnly);
  EXPECT_EQ(c.train.steps, 5);
  EXPECT_DOUBLE_EQ(c.gst.sed_p, 0.3);
  try {
    gst::load_run_config(file, {"gst.mode=segments"});
    FAIL() << "no error";
  } catch (const gst::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("gst, segment_only, full_graph"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(gst::load_run_config(file, {"gst.sed_p=1.0"}), gst::InputError);
  EXPECT_DOUBLE_EQ(gst::load_run_config(file, {"train.slowdown_weight=0.5"}).train.slowdown_weight,
                   0.5);
  try {
    gst::load_run_config(file, {"train.slowdown_weight=-1"});
    FAIL() << "no error";
  } catch (const gst::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("slowdown_weight"), std::string::npos) << e.what();
  }
  // The config round-trips through dump_config (what checkpoints store).
  const auto saved = dir / "saved.yaml";
  std::ofstream(saved) << gst::dump_config(c);
  auto back = gst::read_saved_config(saved);
  EXPECT_EQ(back.gst.mode, gst::GstMode::SegmentOnly);
  EXPECT_EQ(back.train.steps, 5);
  EXPECT_EQ(back.data.store, "s");
  EXPECT_TRUE(back.model.column_pooling);
}

TEST(RunConfig, SavedConfigsWithoutALaterModelKeyKeepTheirModel) {
  gst::testing::ScratchDir dir("runconfig_added_keys");
  const auto saved = dir / "config.yaml";
  std::ofstream(saved) << "data:\n  store: s\nmodel:\n  hidden: 8\n";
  gst::RunConfig old = gst::read_saved_config(saved);
  EXPECT_FALSE(old.model.column_pooling);  // trained before column pooling existed
  EXPECT_EQ(old.model.hidden, 8);
  EXPECT_FALSE(old.model.neighbour_match);
  EXPECT_FALSE(old.model.layout_agreement);
  EXPECT_EQ(old.model.node_cost, gst::NodeCost::Linear);
  EXPECT_EQ(old.model.cost_channels, 1);
  EXPECT_FALSE(old.model.operand_sizes);
  EXPECT_FALSE(old.model.direct_costs);
  EXPECT_FALSE(old.model.operand_copies);
  EXPECT_EQ(old.model.cost_map_scale, 1.0);
  EXPECT_FALSE(old.model.kept_layout_fit);
  EXPECT_TRUE(gst::load_run_config(saved, {}).model.column_pooling);  // a new run gets the default
  EXPECT_TRUE(gst::load_run_config(saved, {}).model.direct_costs);
  EXPECT_TRUE(gst::load_run_config(saved, {}).model.operand_copies);
  EXPECT_TRUE(gst::load_run_config(saved, {}).model.kept_layout_fit);
  EXPECT_EQ(gst::load_run_config(saved, {}).model.cost_map_scale,
            gst::ModelConfig{}.cost_map_scale);
  EXPECT_EQ(gst::load_run_config(saved, {}).model.node_cost, gst::NodeCost::Exp);
  // Trained with column pooling, before neighbour differences: only the missing key is off.
  std::ofstream(saved) << "data:\n  store: s\nmodel:\n  column_pooling: true\n";
  gst::RunConfig later = gst::read_saved_config(saved);
  EXPECT_TRUE(later.model.column_pooling);
  EXPECT_FALSE(later.model.neighbour_match);
  EXPECT_TRUE(gst::load_run_config(saved, {}).model.neighbour_match);
}

TEST(RunConfig, Precision) {
  gst::testing::ScratchDir dir("runconfig_precision");
  const auto file = dir / "run.yaml";
  std::ofstream(file) << "data:\n  store: s\ntrain:\n  precision: bf16\n";
  auto c = gst::load_run_config(file, {});
  EXPECT_EQ(c.train.precision, gst::Precision::Bf16);
  EXPECT_EQ(c.eval.precision, gst::Precision::Fp32);  // the default
  EXPECT_EQ(gst::load_run_config(file, {"eval.precision=bf16"}).eval.precision,
            gst::Precision::Bf16);
  try {
    gst::load_run_config(file, {"train.precision=fp16"});
    FAIL() << "no error";
  } catch (const gst::InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("precision"), std::string::npos) << what;
    EXPECT_NE(what.find("fp32, bf16"), std::string::npos) << what;
  }
}

// train.fault_rank / fault_step gave way to GST_FAULT: configs saved by earlier versions (both at
// -1) still load, a value that asks for a fault is an error pointing to GST_FAULT.
TEST(RunConfig, RetiredFaultKeys) {
  gst::testing::ScratchDir dir("runconfig_retired");
  const auto saved = dir / "config.yaml";
  std::ofstream(saved) << "data:\n  store: s\ntrain:\n  fault_rank: -1\n  fault_step: -1\n";
  gst::RunConfig old = gst::read_saved_config(saved);
  EXPECT_EQ(old.data.store, "s");
  EXPECT_EQ(gst::dump_config(old).find("fault_"), std::string::npos);
  try {
    gst::load_run_config(saved, {"train.fault_rank=1"});
    FAIL() << "no error";
  } catch (const gst::InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("--set train.fault_rank=1: 'train.fault_rank' is no longer a config key"),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("GST_FAULT"), std::string::npos) << msg;
  }  // Nor are they offered among the valid keys.
  try {
    gst::load_run_config(saved, {"train.stpes=3"});
    FAIL() << "no error";
  } catch (const gst::InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("valid keys: steps"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("fault_"), std::string::npos) << msg;
  }
}

}  // namespace
