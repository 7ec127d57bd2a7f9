// The one communicator abstraction of gst's ranks: MPI (host buffers) or NCCL (device buffers).
//
// Every call is collective (all ranks call it, in the same order) and blocking unless it says
// otherwise. The caller owns every buffer. On any library error a call throws gst::Error naming the
// call, the rank and the library's message; main then ends the job (abort_job_if_distributed).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace gst {

// Exit code of a job ended by the collective watchdog (0 success, 1 error, 2 command line, 3
// preempted).
constexpr int kStalledExitCode = 4;
// dist.timeout_s by default: far above any healthy wait (a step, a validation pass or a checkpoint
// on another rank), far below a cluster allocation.
constexpr double kDefaultCollectiveTimeoutS = 300;

// The training step this process is in, named by stall reports; -1 outside training steps. Set by
// the trainer, read by every communicator's watchdog.
void set_watched_step(int64_t step);
int64_t watched_step();

// Which communicator a job asks for (dist.backend, comm-check --backend).
enum class Backend { Auto, Mpi, Nccl };
constexpr auto enum_names(Backend) {
  return std::array{std::pair{Backend::Auto, "auto"}, std::pair{Backend::Mpi, "mpi"},
                    std::pair{Backend::Nccl, "nccl"}};
}

// A collective started by an *_async call. The buffer must stay alive and untouched until wait()
// has returned; all ranks must start their async collectives in the same order.
class PendingCollective {
 public:
  virtual ~PendingCollective() = default;
  // Blocks until the collective is complete and the buffer holds the result.
  virtual void wait() = 0;
  // Lets the library progress without blocking; true once complete (wait() is still required).
  virtual bool test() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int local_rank() const = 0;       // rank among the processes of this host
  virtual std::string backend() const = 0;  // "mpi" | "nccl"
  // True when buffer collectives take device (CUDA) pointers.
  virtual bool device_buffers() const = 0;

  virtual void barrier() = 0;

  // Buffer collectives (device memory for NCCL, host memory for MPI):
  // Starts an in-place sum over `count` doubles; the result is ready after wait(). GradientSync
  // sums its float64 gradient buckets with it.
  virtual std::unique_ptr<PendingCollective> all_reduce_sum_async(double* data, size_t count) = 0;
  // In place over `bytes` bytes, from `root` to all.
  virtual void broadcast(void* data, size_t bytes, int root) = 0;

  // Host-side collectives for control data (always over MPI, whatever the backend):
  // One host value per rank in, the sum or the maximum over ranks out.
  virtual double scalar_sum(double value) = 0;
  virtual double scalar_max(double value) = 0;
  // Every rank's `local` bytes, indexed by rank.
  virtual std::vector<std::vector<uint8_t>> all_gather(const std::vector<uint8_t>& local) = 0;
  // send[r] goes to rank r; returns recv[r] = what rank r sent here. One exchange, no per-key
  // messages.
  virtual std::vector<std::vector<uint8_t>> all_to_all(
      const std::vector<std::vector<uint8_t>>& send) = 0;

  // Not collective: ends the whole job at once from this rank (NCCL: ncclCommAbort first, so no
  // GPU collective keeps waiting; then MPI_Abort). Used by abort_job_if_distributed.
  [[noreturn]] virtual void abort(int exit_code) = 0;
};

// Auto picks NCCL when built with it, torch has CUDA and a GPU is visible; MPI otherwise.
// Initializes MPI on first use; asking for NCCL without NCCL support is an InputError.
// Collectives wait at most timeout_s seconds (dist.timeout_s; <= 0: unbounded), then the job ends
// with a stall report and exit code kStalledExitCode (comm/collective_watchdog.h).
std::unique_ptr<Communicator> make_communicator(Backend backend,
                                                double timeout_s = kDefaultCollectiveTimeoutS);

// The communicator of this process's job: made by the first call (make_communicator(backend,
// timeout_s); later calls return it whatever their arguments) and kept until
// close_job_communicator(), so that main's error handler can still abort the job through it after
// the command has thrown.
Communicator& job_communicator(Backend backend, double timeout_s = kDefaultCollectiveTimeoutS);
// Destroys the job communicator (if any); main calls it before the process exits.
void close_job_communicator();

// For the top-level error handler: when MPI runs with more than one rank, logs `reason` with this
// rank and ends the whole job through the job communicator (aborting NCCL too), or through
// MPI_COMM_WORLD when none was made, so no rank waits forever in a collective. Returns (doing
// nothing) in a single-rank or non-MPI run.
void abort_job_if_distributed(int exit_code, const std::string& reason);

}  // namespace gst
