// The MPI backend of Communicator: host buffers over a private duplicate of an MPI communicator.
#pragma once

#include "comm/collective_watchdog.h"
#include "comm/communicator.h"
#include "comm/mpi_check.h"  // <mpi.h> without the C++ bindings

namespace gst {

class MpiCommunicator : public Communicator {
 public:
  // Duplicates `parent` (MPI_COMM_WORLD by default; initializes MPI first) and makes its errors
  // return codes, which become gst::Error. Every collective waits at most timeout_s seconds
  // (<= 0: unbounded) before the job ends with a stall report (CollectiveWatchdog).
  explicit MpiCommunicator(double timeout_s = kDefaultCollectiveTimeoutS);
  explicit MpiCommunicator(MPI_Comm parent, double timeout_s = kDefaultCollectiveTimeoutS);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  // Collective over this communicator: ranks [0, n) get a communicator of their own, the others
  // get nullptr. Used to run a smaller world inside a larger one (tests, re-sharding).
  std::unique_ptr<MpiCommunicator> first_ranks(int n) const;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  std::string backend() const override { return "mpi"; }
  bool device_buffers() const override { return false; }
  MPI_Comm handle() const { return comm_; }
  CollectiveWatchdog& watchdog() { return *watchdog_; }

  void barrier() override;
  std::unique_ptr<PendingCollective> all_reduce_sum_async(double* data, size_t count) override;
  void broadcast(void* data, size_t bytes, int root) override;
  double scalar_sum(double value) override;
  double scalar_max(double value) override;
  std::vector<std::vector<uint8_t>> all_gather(const std::vector<uint8_t>& local) override;
  std::vector<std::vector<uint8_t>> all_to_all(
      const std::vector<std::vector<uint8_t>>& send) override;
  [[noreturn]] void abort(int exit_code) override;

 private:
  // Completes a started collective under the watchdog.
  void finish(MPI_Request* request, const char* what);

  MPI_Comm comm_ = MPI_COMM_NULL;
  std::unique_ptr<CollectiveWatchdog> watchdog_;
  int rank_ = 0, size_ = 1, local_rank_ = 0;
};

}  // namespace gst
