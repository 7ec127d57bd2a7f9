// gst train / eval / predict through the command line on tiny synthetic stores.
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "run/checkpoint.h"
#include "test_support.h"
#include "train_fixtures.h"

namespace {

namespace fs = std::filesystem;
using gst::testing::run_command;
using gst::testing::train_losses;

class TrainCommandTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new gst::testing::ScratchDir("train_cmd");
    gst::testing::make_store(dir_->path() / "store", gst::testing::TinyStore{});
  }
  static void TearDownTestSuite() { delete dir_; }

  static fs::path store() { return dir_->path() / "store"; }
  fs::path config(const std::string& name, const fs::path& run_dir) {
    return gst::testing::write_text(dir_->path() / (name + ".yaml"),
                                    gst::testing::tiny_run_yaml(store(), run_dir));
  }
  // `gst <args>`, with the fault plan `faults` when given.
  static gst::testing::CommandResult gst_cmd(const std::string& args,
                                             const std::string& faults = "") {
    const std::string command = gst::testing::gst_binary() + " " + args + " 2>&1";
    return run_command(faults.empty() ? command : gst::testing::with_faults(faults, command));
  }
  static gst::testing::ScratchDir* dir_;
};
gst::testing::ScratchDir* TrainCommandTest::dir_ = nullptr;

TEST_F(TrainCommandTest, SameSeedSameLosses) {
  const fs::path a = dir_->path() / "same_a", b = dir_->path() / "same_b";
  auto ra = gst_cmd("train --config " + config("same_a", a).string());
  ASSERT_EQ(ra.exit_code, 0) << ra.output;
  auto rb = gst_cmd("train --config " + config("same_b", b).string());
  ASSERT_EQ(rb.exit_code, 0) << rb.output;
  auto la = train_losses(a), lb = train_losses(b);
  ASSERT_EQ(la.size(), 12u);
  EXPECT_EQ(la, lb);
  // The loss moves: training does something.
  EXPECT_NE(la.begin()->second, la.rbegin()->second);
  // A different seed gives a different run.
  const fs::path c = dir_->path() / "same_c";
  ASSERT_EQ(
      gst_cmd("train --config " + config("same_c", c).string() + " --set train.seed=8").exit_code,
      0);
  EXPECT_NE(train_losses(c), la);
}

// A rank that throws ends the run with the reason; --resume auto continues from the last
// checkpoint and reproduces the uninterrupted run's losses exactly.
TEST_F(TrainCommandTest, FaultThenResumeReproducesLosses) {
  const fs::path full = dir_->path() / "full", cut = dir_->path() / "cut";
  const std::string every = " --set train.checkpoint_every=4 --set train.keep_checkpoints=2";
  auto r = gst_cmd("train --config " + config("full", full).string() + every);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto f = gst_cmd("train --config " + config("cut", cut).string() + every, "fail:train.step,at=9");
  EXPECT_EQ(f.exit_code, 1) << f.output;
  EXPECT_NE(f.output.find("injected fault on rank 0 at train.step 9 (GST_FAULT)"),
            std::string::npos)
      << f.output;
  ASSERT_EQ(gst::list_checkpoints(cut).front().step, 8);

  // Without --resume a run directory holding checkpoints is refused.
  auto refused = gst_cmd("train --config " + config("cut", cut).string() + every);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find("--resume auto"), std::string::npos) << refused.output;

  auto resumed =
      gst_cmd("train --config " + config("cut", cut).string() + every + " --resume auto");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("step-8"), std::string::npos) << resumed.output;
  EXPECT_EQ(train_losses(cut), train_losses(full));
  // keep_checkpoints=2: steps 8 and 12 remain.
  auto kept = gst::list_checkpoints(cut);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].step, 12);
  EXPECT_EQ(kept[1].step, 8);
  for (const char* file : {"model.pt", "optimizer.pt", "head_optimizer.pt", "scheduler.json",
                           "config.yaml", "rng-rank0.json", "history-rank0.bin", "manifest.json"})
    EXPECT_TRUE(fs::exists(kept[0].dir / file)) << file;
}

TEST_F(TrainCommandTest, CorruptedNewestCheckpointFallsBack) {
  const fs::path run = dir_->path() / "corrupt";
  const std::string every = " --set train.checkpoint_every=6";
  ASSERT_EQ(gst_cmd("train --config " + config("corrupt", run).string() + every).exit_code, 0);
  {
    std::fstream file(run / "step-12" / "model.pt",
                      std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(100);
    file.put('\x7f');
  }
  auto r = gst_cmd("train --config " + config("corrupt", run).string() + every +
                   " --set train.steps=14 --resume auto");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("checksum mismatch"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("resumed from " + (run / "step-6").string()), std::string::npos)
      << r.output;
  EXPECT_EQ(gst::list_checkpoints(run).front().step, 14);
}

TEST_F(TrainCommandTest, PreemptionSignalCheckpointsAndExitsWithCode3) {
  const fs::path run = dir_->path() / "preempt";
  const std::string cmd = gst::testing::gst_binary() + " train --config " +
                          config("preempt", run).string() + " --set train.steps=100000 > " +
                          (run.string() + ".log") +
                          " 2>&1 & pid=$!; "
                          "for i in $(seq 600); do grep -q '\"step\":3,' " +
                          (run / "metrics.jsonl").string() +
                          " 2>/dev/null && break; sleep 0.1; done; kill -USR1 $pid; wait $pid; "
                          "echo exit=$?";
  auto r = run_command(cmd);
  EXPECT_NE(r.output.find("exit=3"), std::string::npos) << r.output;
  auto kept = gst::list_checkpoints(run);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_GE(kept[0].step, 3);
  EXPECT_LT(kept[0].step, 1000);
}

TEST_F(TrainCommandTest, BadConfigKeyNamesFileAndLine) {
  auto file = gst::testing::write_text(dir_->path() / "bad.yaml",
                                       "data:\n  store: x\ntrain:\n  stepz: 3\n");
  auto r = gst_cmd("train --config " + file.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("bad.yaml:4"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("unknown key 'stepz'"), std::string::npos) << r.output;
  auto missing = gst::testing::write_text(dir_->path() / "nostore.yaml", "train:\n  steps: 3\n");
  r = gst_cmd("train --config " + missing.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("data.store"), std::string::npos) << r.output;
  r = gst_cmd("train --config " + file.string() + " --set train.steps=-1");
  EXPECT_EQ(r.exit_code, 1);
}

// A store sharded with --max-configs: eval says its metrics are over the kept configs.
TEST_F(TrainCommandTest, EvalNotesAStoreThatKeptASubsetOfConfigs) {
  gst::testing::TinyStore tiny;
  tiny.max_configs = 10;
  tiny.train = 4;
  tiny.valid = 2;
  tiny.test = 1;
  const fs::path subset = gst::testing::make_store(dir_->path() / "subset_store", tiny);
  const fs::path run = dir_->path() / "subset_run";
  const fs::path yaml = gst::testing::write_text(dir_->path() / "subset.yaml",
                                                 gst::testing::tiny_run_yaml(subset, run));
  auto r = gst_cmd("train --config " + yaml.string() + " --set train.steps=2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const fs::path metrics = dir_->path() / "subset_metrics.json";
  auto e = gst_cmd("eval --run " + run.string() + " --split valid --out " + metrics.string());
  ASSERT_EQ(e.exit_code, 0) << e.output;
  EXPECT_NE(e.output.find("--max-configs 10 (seed 0): 2 of 2 graphs keep a subset of their "
                          "configs (20 of 48 configs)"),
            std::string::npos)
      << e.output;
  EXPECT_NE(e.output.find("configs per graph min 10 / median 10 / max 10"), std::string::npos)
      << e.output;
  std::ifstream in(metrics);
  auto j = nlohmann::json::parse(in);
  EXPECT_NE(j["note"].get<std::string>().find("over the kept configs"), std::string::npos);
  // A store of every config gets no note.
  const fs::path full_run = dir_->path() / "full_run";
  ASSERT_EQ(gst_cmd("train --config " + config("full", full_run).string() + " --set train.steps=2")
                .exit_code,
            0);
  auto f = gst_cmd("eval --run " + full_run.string() + " --split valid");
  ASSERT_EQ(f.exit_code, 0) << f.output;
  EXPECT_EQ(f.output.find("--max-configs"), std::string::npos) << f.output;
}

// Train long enough to learn, then evaluate and predict: the model ranks held-out graphs well
// above chance and the submission lists every config of every test graph once.
TEST_F(TrainCommandTest, TrainEvalPredictEndToEnd) {
  const fs::path run = dir_->path() / "e2e";
  auto r = gst_cmd("train --config " + config("e2e", run).string() +
                   " --set train.steps=200 --set train.valid_every=100 --set gst.head_steps=10"
                   " --set model.dropout=0 --set gst.configs_per_graph=16 --set train.lr=0.002");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const fs::path metrics = dir_->path() / "e2e_metrics.json";
  auto e = gst_cmd("eval --run " + run.string() + " --split valid --out " + metrics.string());
  ASSERT_EQ(e.exit_code, 0) << e.output;
  std::ifstream in(metrics);
  auto j = nlohmann::json::parse(in);
  const auto& m = j["collections"]["layout:xla:random"];
  EXPECT_EQ(m["graphs"].get<int>(), 4);
  EXPECT_GT(m["kendall_tau"].get<double>(), 0.2) << e.output;
  EXPECT_EQ(j["step"].get<int>(), 210);

  const fs::path csv = dir_->path() / "submission.csv";
  auto p = gst_cmd("predict --run " + run.string() + " --out " + csv.string());
  ASSERT_EQ(p.exit_code, 0) << p.output;
  std::ifstream lines(csv);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "ID,TopConfigs");
  int rows = 0;
  while (std::getline(lines, line)) {
    ++rows;
    ASSERT_EQ(line.rfind("layout:xla:random:g", 0), 0u) << line;
    std::stringstream configs(line.substr(line.find(',') + 1));
    std::set<int> seen;
    for (std::string c; std::getline(configs, c, ';');) seen.insert(std::stoi(c));
    EXPECT_EQ(seen.size(), 24u) << line;
    EXPECT_EQ(*seen.begin(), 0);
    EXPECT_EQ(*seen.rbegin(), 23);
  }
  EXPECT_EQ(rows, 3);

  // Several runs (seeds) of one experiment: each row, then mean and spread; here twice the same.
  const fs::path spread = dir_->path() / "spread.json";
  auto m2 =
      gst_cmd("eval --runs " + run.string() + " " + run.string() + " --out " + spread.string());
  ASSERT_EQ(m2.exit_code, 0) << m2.output;
  EXPECT_NE(m2.output.find("4 graphs, configs per graph min 24 / median 24 / max 24"),
            std::string::npos)
      << m2.output;
  EXPECT_NE(m2.output.find("mean of 2 runs"), std::string::npos) << m2.output;
  std::ifstream spread_in(spread);
  auto s = nlohmann::json::parse(spread_in);
  EXPECT_EQ(s["runs"].size(), 2u);
  EXPECT_DOUBLE_EQ(s["spread"]["kendall_tau"]["mean"].get<double>(),
                   m["kendall_tau"].get<double>());
  EXPECT_DOUBLE_EQ(s["spread"]["kendall_tau"]["std"].get<double>(), 0.0);
  EXPECT_EQ(gst_cmd("eval --run " + run.string() + " --runs " + run.string()).exit_code, 1);

  // --device: an unknown name, and a GPU this machine lacks, are clear errors.
  auto bad = gst_cmd("predict --run " + run.string() + " --out " + csv.string() + " --device gpu");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("--device"), std::string::npos) << bad.output;
  if (!torch::cuda::is_available()) {
    auto cuda = gst_cmd("eval --run " + run.string() + " --device cuda");
    EXPECT_EQ(cuda.exit_code, 1);
    EXPECT_NE(cuda.output.find("--device is 'cuda' but this LibTorch has no CUDA"),
              std::string::npos)
        << cuda.output;
  }
}

}  // namespace
