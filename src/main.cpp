// The `gst` command: parses the subcommand and turns any exception into a message and exit code.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "comm/communicator.h"
#include "commands.h"
#include "common/errors.h"
#include "common/heap_policy.h"
#include "common/library_order.h"
#include "common/log.h"

namespace {

// Rank from the launcher's environment, so logging is rank-aware before MPI starts.
int launcher_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID"})
    if (const char* v = std::getenv(name)) return std::atoi(v);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    gst::keep_filesystem_in_libstdcxx();
    gst::keep_freed_memory_in_heap();
  } catch (const std::exception& e) {
    std::cerr << "gst: error: " << e.what() << "\n";
    return 1;
  }
  CLI::App app{"gst: learned cost models for ML compilers, trained with Graph Segment Training"};
  app.require_subcommand(1);
  std::string log_level = "info";
  bool log_all_ranks = false;
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  app.add_flag("--log-all-ranks", log_all_ranks,
               "log at the chosen level on every rank, not only rank 0");
  app.parse_complete_callback([&] { gst::log::init(launcher_rank(), log_level, log_all_ranks); });
  gst::add_synth_command(app);
  gst::add_inspect_command(app);
  gst::add_comm_check_command(app);
  gst::add_shard_command(app);
  gst::add_train_command(app);
  gst::add_eval_command(app);
  gst::add_predict_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "gst: error: " << e.what() << "\n";
    gst::abort_job_if_distributed(1, e.what());
    gst::close_job_communicator();
    return 1;
  }
  gst::close_job_communicator();
  return 0;
}
