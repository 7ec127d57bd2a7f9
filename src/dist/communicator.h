// The one communicator abstraction of gst's ranks: MPI (host buffers) or NCCL (device buffers).
//
// Every call is collective (all ranks call it, in the same order) and blocking unless it says
// otherwise. The caller owns every buffer. On any library error a call throws gst::Error naming the
// call, the rank and the library's message; the caller decides whether to abort().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gst {

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
  // True when all_reduce/broadcast take device (CUDA) pointers.
  virtual bool device_buffers() const = 0;

  virtual void barrier() = 0;
  // In place over `count` floats (device memory for NCCL). Blocking: the result is ready on return.
  virtual void all_reduce_sum(float* data, size_t count) = 0;
  // The sum divided by size(), in place.
  void all_reduce_avg(float* data, size_t count);
  // In place over `count` doubles (device memory for NCCL). Blocking. GradientSync sums its
  // float64 gradient buckets with these.
  virtual void all_reduce_sum(double* data, size_t count) = 0;
  // Starts an in-place sum over `count` doubles; the result is ready after wait().
  virtual std::unique_ptr<PendingCollective> all_reduce_sum_async(double* data, size_t count);
  // In place over `bytes` bytes, from `root` to all (device memory for NCCL).
  virtual void broadcast(void* data, size_t bytes, int root) = 0;

  // Host-side collectives for control data (always over MPI, whatever the backend):
  virtual double all_reduce_max(double value) = 0;
  virtual double all_reduce_sum(double value) = 0;
  // Every rank's `local` bytes, indexed by rank.
  virtual std::vector<std::vector<uint8_t>> all_gather(const std::vector<uint8_t>& local) = 0;
  // send[r] goes to rank r; returns recv[r] = what rank r sent here. One exchange, no per-key
  // messages.
  virtual std::vector<std::vector<uint8_t>> all_to_all(
      const std::vector<std::vector<uint8_t>>& send) = 0;

  // Ends the whole job at once (MPI_Abort) after logging `reason`; used when one rank fails.
  [[noreturn]] virtual void abort(int exit_code, const std::string& reason) = 0;

 protected:
  // Backends with a native average (NCCL's ncclAvg) override this; the default sums, then scales
  // on the host.
  virtual void average_in_place(float* data, size_t count);
};

// backend: auto | mpi | nccl. auto picks NCCL when built with it, torch has CUDA and a GPU is
// visible; MPI otherwise. Initializes MPI on first use; asking for nccl without NCCL support is an
// InputError.
std::unique_ptr<Communicator> make_communicator(const std::string& backend);

// For a top-level error handler: when MPI runs with more than one rank, logs `reason` with this
// rank and ends the whole job (MPI_Abort) so no rank waits forever in a collective. Returns
// (doing nothing) in a single-rank or non-MPI run.
void abort_job_if_distributed(int exit_code, const std::string& reason);

}  // namespace gst
