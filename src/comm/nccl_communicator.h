// The NCCL backend of Communicator: device buffers on this rank's GPU (chosen from the local rank),
// on its own CUDA stream; host-side collectives go over MPI. Only built with GST_WITH_NCCL.
#pragma once

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <memory>
#include <string>

#include "comm/communicator.h"
#include "comm/mpi_communicator.h"

namespace gst {

namespace cuda {
// Throw gst::Error naming the call, source file name (no directories):line and the library's
// error string.
void check(cudaError_t code, const char* call, const char* file, int line);
void check(ncclResult_t code, const char* call, const char* file, int line);
}  // namespace cuda

// True when the CUDA runtime loads and sees at least one GPU (false without a driver).
bool nccl_gpu_visible();

// "host/PCI bus id" of the GPU that a rank with this local rank uses (local rank mod visible GPUs),
// or empty when CUDA sees no GPU.
std::string rank_gpu_id(int local_rank);

// Collective over `comm`, given each rank's rank_gpu_id(): why NCCL cannot run on these ranks (a
// rank without a GPU, or two ranks on one GPU, which ncclCommInitRank rejects), or empty. Every
// rank gets the same answer.
std::string nccl_unusable_reason(Communicator& comm, const std::string& gpu_id);

class NcclCommunicator : public Communicator {
 public:
  // Collectives wait at most timeout_s seconds (<= 0: unbounded), then the job ends with a stall
  // report (CollectiveWatchdog), ncclCommAbort first.
  explicit NcclCommunicator(double timeout_s = kDefaultCollectiveTimeoutS);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }
  int local_rank() const override { return host_->local_rank(); }
  std::string backend() const override { return "nccl"; }
  bool device_buffers() const override { return true; }
  int device() const { return device_; }
  // The stream the collectives run on; it synchronizes with the legacy default stream.
  cudaStream_t stream() const { return stream_; }

  void barrier() override;
  std::unique_ptr<PendingCollective> all_reduce_sum_async(double* data, size_t count) override;
  void broadcast(void* data, size_t bytes, int root) override;
  double scalar_sum(double value) override { return host_->scalar_sum(value); }
  double scalar_max(double value) override { return host_->scalar_max(value); }
  std::vector<std::vector<uint8_t>> all_gather(const std::vector<uint8_t>& local) override {
    return host_->all_gather(local);
  }
  std::vector<std::vector<uint8_t>> all_to_all(
      const std::vector<std::vector<uint8_t>>& send) override {
    return host_->all_to_all(send);
  }
  [[noreturn]] void abort(int exit_code) override;

 private:
  void init_nccl();
  // Waits for the stream's work under the watchdog; `what` names it in a stall report.
  void synchronize(const char* what);
  std::unique_ptr<MpiCommunicator> host_;
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  ncclComm_t comm_ = nullptr;
};

}  // namespace gst

#define GST_CUDA_CHECK(call) ::gst::cuda::check((call), #call, __FILE__, __LINE__)
#define GST_NCCL_CHECK(call) ::gst::cuda::check((call), #call, __FILE__, __LINE__)
