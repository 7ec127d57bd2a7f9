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
  void all_reduce_avg(float* data, size_t count);
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
};

// backend: auto | mpi | nccl. auto picks NCCL when built with it and a GPU is visible.
// Initializes MPI on first use; asking for nccl without NCCL support is an InputError.
std::unique_ptr<Communicator> make_communicator(const std::string& backend);

}  // namespace gst
