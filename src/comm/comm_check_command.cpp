// `gst comm-check`: checks that the ranks of an mpirun job see each other and agree on results.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstring>

#include "comm/communicator.h"
#include "commands.h"
#include "common/enum_names.h"
#include "common/errors.h"
#include "common/fault.h"

namespace gst {

namespace {

struct CommCheckOptions {
  std::string backend = "auto";  // parsed to a Backend when the command runs
  double timeout_s = kDefaultCollectiveTimeoutS;
};

void run_comm_check(const CommCheckOptions& options) {
  const FaultPlan faults = FaultPlan::from_environment();
  Communicator& comm =
      job_communicator(parse_enum<Backend>(options.backend, "--backend"), options.timeout_s);
  const int rank = comm.rank(), size = comm.size();
  faults.hit("comm-check.start", rank, 0);

  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  std::string self = fmt::format("rank {} of {}: host {}, local rank {}, backend {}", rank, size,
                                 host, comm.local_rank(), comm.backend());
  auto lines = comm.all_gather(std::vector<uint8_t>(self.begin(), self.end()));

  const double expected = size * (size + 1) / 2.0;
  const double sum = comm.scalar_sum(static_cast<double>(rank + 1));
  if (sum != expected) fail("scalar_sum of rank+1 gave {}, expected {}", sum, expected);

  const auto start = std::chrono::steady_clock::now();
  constexpr int kBarriers = 100;
  for (int i = 0; i < kBarriers; ++i) comm.barrier();
  const double barrier_us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() /
      kBarriers;
  if (rank == 0) {
    for (const auto& line : lines) spdlog::info("{}", std::string(line.begin(), line.end()));
    spdlog::info("comm-check passed: {} ranks, all_reduce ok, barrier {:.1f} us", size, barrier_us);
  }
}

}  // namespace

void add_comm_check_command(CLI::App& app) {
  auto options = std::make_shared<CommCheckOptions>();
  auto* cmd = app.add_subcommand(
      "comm-check", "check that the ranks of an mpirun job communicate (run under mpirun)");
  cmd->add_option("--backend", options->backend, "auto, mpi or nccl")
      ->check(CLI::IsMember(enum_words<Backend>()))
      ->capture_default_str();
  cmd->add_option("--timeout", options->timeout_s,
                  "seconds a collective may wait before the job ends with a stall report (exit "
                  "code 4); 0: no limit")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->callback([options] { run_comm_check(*options); });
}

}  // namespace gst
