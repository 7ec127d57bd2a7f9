// A training run's configuration: the sections data, model, gst, train, dist and eval of
// configs/*.yaml, with defaults, ranges and strict key checking (common/config.h).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "comm/dist_config.h"
#include "common/config.h"
#include "gst/gst_config.h"
#include "model/loss_kind.h"
#include "model/model_config.h"
#include "model/precision.h"

namespace gst {

enum class LrScheduleKind { Cosine, Step, Constant };
constexpr auto enum_names(LrScheduleKind) {
  return std::array{std::pair{LrScheduleKind::Cosine, "cosine"},
                    std::pair{LrScheduleKind::Step, "step"},
                    std::pair{LrScheduleKind::Constant, "constant"}};
}

// auto: CUDA when this LibTorch has it and a GPU is visible, else the CPU.
enum class DeviceChoice { Auto, Cpu, Cuda };
constexpr auto enum_names(DeviceChoice) {
  return std::array{std::pair{DeviceChoice::Auto, "auto"}, std::pair{DeviceChoice::Cpu, "cpu"},
                    std::pair{DeviceChoice::Cuda, "cuda"}};
}

// rank: each rank samples from the graphs it owns with generators seeded per rank; global: every
// rank slices the same global batch stream, so the run does not depend on the world size.
enum class Sampling { Rank, Global };
constexpr auto enum_names(Sampling) {
  return std::array{std::pair{Sampling::Rank, "rank"}, std::pair{Sampling::Global, "global"}};
}

struct DataConfig {
  std::string store;  // segment store directory (gst shard --out); relative to cwd
  std::string train_split = "train";
  std::string valid_split = "valid";
  void visit(ConfigSection& c) {
    c.field("store", store);
    c.field("train_split", train_split);
    c.field("valid_split", valid_split);
  }
};

constexpr const char* kFaultKeysReplaced =
    "fault injection is the GST_FAULT environment variable, e.g. "
    "GST_FAULT='fail:train.step,rank=R,at=N' (src/common/README.md)";

struct TrainConfig {
  int64_t steps = 1000;  // main-phase optimizer steps (head fine-tuning comes after)
  int batch_graphs = 8;  // graphs per rank per step (global batch = this x ranks)
  LossKind loss = LossKind::Hinge;
  double margin = 0.1;  // pairwise hinge margin
  // Weight of the expected top-1 log slowdown added to the loss (model/losses.h); 0: none.
  double slowdown_weight = 0.0;
  double lr = 1e-3;
  double weight_decay = 0.0;
  LrScheduleKind schedule = LrScheduleKind::Cosine;
  int64_t warmup_steps = 0;
  double min_lr_ratio = 0.0;  // cosine floor as a share of lr
  int64_t step_size = 1000;   // step schedule
  double step_gamma = 0.5;
  double clip_norm = 1.0;  // global gradient-norm clip; 0 disables
  int64_t seed = 0;
  DeviceChoice device = DeviceChoice::Cpu;
  int torch_threads = 0;  // 0: $GST_TORCH_THREADS, else 1 per rank in multi-rank runs, else default
  std::string run_dir = "checkpoints/run";
  int64_t log_every = 10;        // metrics line every N steps
  int64_t valid_every = 0;       // validation every N steps (0: only at the end)
  int64_t valid_graphs = 0;      // > 0: validate on the first N valid graphs only
  int64_t checkpoint_every = 0;  // 0: only at the end
  int keep_checkpoints = 3;
  Sampling sampling = Sampling::Rank;
  // Matrix products in fp32 or bf16 (model/precision.h): master weights, optimizer state,
  // gradient sums and the loss stay fp32/float64 either way; validation in training uses it too.
  Precision precision = Precision::Fp32;

  void visit(ConfigSection& c) {
    c.field("steps", steps, 0);
    c.field("batch_graphs", batch_graphs, 1, 100000);
    c.choice("loss", loss);
    c.field("margin", margin, 0.0, 100.0);
    c.field("slowdown_weight", slowdown_weight, 0.0, 100.0);
    c.field("lr", lr, 0.0, 10.0);
    c.field("weight_decay", weight_decay, 0.0, 10.0);
    c.choice("schedule", schedule);
    c.field("warmup_steps", warmup_steps, 0);
    c.field("min_lr_ratio", min_lr_ratio, 0.0, 1.0);
    c.field("step_size", step_size, 1);
    c.field("step_gamma", step_gamma, 0.0, 1.0);
    c.field("clip_norm", clip_norm, 0.0);
    c.field("seed", seed, 0);
    c.choice("device", device);
    c.field("torch_threads", torch_threads, 0, 1024);
    c.field("run_dir", run_dir);
    c.field("log_every", log_every, 1);
    c.field("valid_every", valid_every, 0);
    c.field("valid_graphs", valid_graphs, 0);
    c.field("checkpoint_every", checkpoint_every, 0);
    c.field("keep_checkpoints", keep_checkpoints, 1, 1000);
    // Saved configs of earlier versions hold both keys at -1 (no fault).
    c.retired("fault_rank", "-1", kFaultKeysReplaced);
    c.retired("fault_step", "-1", kFaultKeysReplaced);
    c.choice("sampling", sampling);
    c.choice("precision", precision);
  }
};

struct EvalConfig {
  int config_batch = 256;                 // configs scored together per segment batch
  int64_t max_batch_nodes = 20000;        // node budget of one segment batch (x configs for layout)
  Precision precision = Precision::Fp32;  // gst eval / gst predict matrix products: fp32 | bf16
  void visit(ConfigSection& c) {
    c.field("config_batch", config_batch, 1, 1000000);
    c.field("max_batch_nodes", max_batch_nodes, 1);
    c.choice("precision", precision);
  }
};

struct RunConfig {
  DataConfig data;
  ModelConfig model;
  GstConfig gst;
  TrainConfig train;
  DistConfig dist;
  EvalConfig eval;
  void visit(ConfigSection& c) {
    c.section("data", data);
    c.section("model", model);
    c.section("gst", gst);
    c.section("train", train);
    c.section("dist", dist);
    c.section("eval", eval);
  }
};

// Loads a run config (file + --set overrides) and checks what ranges cannot: data.store set.
RunConfig load_run_config(const std::filesystem::path& file, const std::vector<std::string>& sets);
// Reads the config.yaml a run or checkpoint directory holds.
RunConfig read_saved_config(const std::filesystem::path& file);

}  // namespace gst
