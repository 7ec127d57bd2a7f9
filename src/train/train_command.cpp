// `gst train`: trains a cost model on a segment store (one process per MPI rank).
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <memory>

#include "comm/communicator.h"
#include "commands.h"
#include "run/run_config.h"
#include "train/preemption.h"
#include "train/trainer.h"

namespace gst {

void add_train_command(CLI::App& app) {
  struct Options {
    std::string config;
    std::vector<std::string> sets;
    std::string resume;
    std::string run_dir;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train a cost model with Graph Segment Training (run under mpirun for several ranks). Exit "
      "code 3: preempted by SIGUSR1/SIGTERM after writing a checkpoint; 4: a rank stalled (no "
      "progress within dist.timeout_s; the log holds the stall report).");
  cmd->add_option("--config", opt->config, "run config YAML (configs/*.yaml)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", opt->sets, "override a config key: section.key=value (repeatable)");
  cmd->add_option("--resume", opt->resume,
                  "'auto' (newest complete checkpoint of the run directory, if any) or a "
                  "checkpoint directory");
  cmd->add_option("--run-dir", opt->run_dir, "run directory (overrides train.run_dir)");
  cmd->callback([opt] {
    RunConfig config = load_run_config(opt->config, opt->sets);
    if (!opt->run_dir.empty()) config.train.run_dir = opt->run_dir;
    Communicator& comm = job_communicator(config.dist.backend, config.dist.timeout_s);
    const TrainResult result = train(config, comm, opt->resume);
    if (result.preempted) {
      close_job_communicator();  // before the distinct exit code
      std::exit(kPreemptedExitCode);
    }
  });
}

}  // namespace gst
