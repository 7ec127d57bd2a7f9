// Names and version of a checkpoint directory's files, shared by the trainer (writes, resumes),
// evaluation (loads the model) and run/checkpoint.cpp (manifest, listing). The history table's
// own file format is documented in comm/distributed_history_table.h.
#pragma once

#include <cstdint>
#include <string>

namespace gst::checkpoint_schema {

constexpr const char* kFormat = "gst-checkpoint";  // manifest "format"
constexpr int kFormatVersion = 1;                  // manifest "version"

// Files of <run>/step-<N>/. The manifest is written last: a directory without one is incomplete.
constexpr const char* kManifestFile = "manifest.json";  // version, step, world size, checksums
constexpr const char* kModelFile = "model.pt";          // rank 0: the CostModel (torch::save)
constexpr const char* kOptimizerFile = "optimizer.pt";  // rank 0: main-phase Adam state
constexpr const char* kHeadOptimizerFile = "head_optimizer.pt";  // rank 0: head fine-tuning Adam
constexpr const char* kSchedulerFile = "scheduler.json";         // rank 0: step, kind, lr
constexpr const char* kConfigFile = "config.yaml";               // rank 0: the resolved RunConfig
// Per rank: its shard of the history table, and how its random state derives from the seed.
inline std::string history_file_name(int rank) {
  return "history-rank" + std::to_string(rank) + ".bin";
}
inline std::string rng_file_name(int rank) { return "rng-rank" + std::to_string(rank) + ".json"; }

// Directories of <run>/: complete checkpoints, one being written, one being replaced.
constexpr const char* kStepDirPrefix = "step-";
inline std::string step_dir_name(int64_t step) { return kStepDirPrefix + std::to_string(step); }
inline std::string staging_dir_name(int64_t step) {
  return ".step-" + std::to_string(step) + ".tmp";
}
inline std::string replaced_dir_name(int64_t step) {
  return ".step-" + std::to_string(step) + ".old";
}

}  // namespace gst::checkpoint_schema
