// The training loop of one rank: GST (or full-graph / segment-only) steps with Adam, gradient
// averaging across ranks, periodic validation, metrics log, checkpoints and resume, preemption.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "run/run_config.h"

namespace gst {

class Communicator;

struct TrainResult {
  int64_t steps_done = 0;  // completed steps (main + head phase)
  bool preempted = false;  // stopped by SIGUSR1/SIGTERM after checkpointing
  double last_loss = 0;    // mean loss of the last logged interval (all ranks)
};

// resume: "" (fresh run; refused when the run directory already holds checkpoints), "auto" (the
// newest complete checkpoint of the run directory, or a fresh start when there is none) or a
// checkpoint directory.
TrainResult train(const RunConfig& config, Communicator& comm, const std::string& resume);

}  // namespace gst
