#include "dist/nccl_communicator.h"

#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "dist/mpi_check.h"

namespace gst {

namespace cuda {

void check(cudaError_t code, const char* call, const char* file, int line) {
  if (code == cudaSuccess) return;
  throw Error(fmt::format("CUDA call {} failed at {}:{} on rank {}: {}", call, file, line,
                          mpi::world_rank(), cudaGetErrorString(code)));
}

void check(ncclResult_t code, const char* call, const char* file, int line) {
  if (code == ncclSuccess) return;
  throw Error(fmt::format("NCCL call {} failed at {}:{} on rank {}: {}", call, file, line,
                          mpi::world_rank(), ncclGetErrorString(code)));
}

}  // namespace cuda

bool nccl_gpu_visible() {
  int count = 0;
  // Without a driver this returns an error code (no crash): that means no GPU.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error state
    return false;
  }
  return count > 0;
}

namespace {

// A ncclAllReduce(avg) in flight on the communicator's stream, tracked by an event.
class NcclPendingAverage : public PendingCollective {
 public:
  NcclPendingAverage(ncclComm_t comm, cudaStream_t stream, float* data, size_t count) {
    GST_NCCL_CHECK(ncclAllReduce(data, data, count, ncclFloat32, ncclAvg, comm, stream));
    GST_CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
    GST_CUDA_CHECK(cudaEventRecord(done_, stream));
  }
  ~NcclPendingAverage() override {
    if (done_) {
      cudaEventSynchronize(done_);
      cudaEventDestroy(done_);
    }
  }
  void wait() override { GST_CUDA_CHECK(cudaEventSynchronize(done_)); }
  bool test() override {
    const cudaError_t state = cudaEventQuery(done_);
    if (state == cudaErrorNotReady) return false;
    GST_CUDA_CHECK(state);
    return true;
  }

 private:
  cudaEvent_t done_ = nullptr;
};

}  // namespace

NcclCommunicator::NcclCommunicator() : host_(std::make_unique<MpiCommunicator>()) {
  int count = 0;
  GST_CUDA_CHECK(cudaGetDeviceCount(&count));
  if (count == 0) fail("the NCCL backend needs a GPU, but CUDA sees none on rank {}", rank());
  device_ = local_rank() % count;
  GST_CUDA_CHECK(cudaSetDevice(device_));
  // A blocking stream: it orders itself after work on the legacy default stream (torch's default),
  // so gradients written there are complete before a collective reads them.
  GST_CUDA_CHECK(cudaStreamCreate(&stream_));
  init_nccl();
  spdlog::debug("NCCL communicator: rank {} of {} on GPU {}", rank(), size(), device_);
}

void NcclCommunicator::init_nccl() {
  ncclUniqueId id;
  if (rank() == 0) GST_NCCL_CHECK(ncclGetUniqueId(&id));
  host_->broadcast(&id, sizeof(id), 0);
  GST_NCCL_CHECK(ncclCommInitRank(&comm_, size(), id, rank()));
}

NcclCommunicator::~NcclCommunicator() {
  if (comm_) ncclCommDestroy(comm_);
  if (stream_) cudaStreamDestroy(stream_);
}

void NcclCommunicator::synchronize() { GST_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

void NcclCommunicator::barrier() {
  synchronize();
  host_->barrier();
}

void NcclCommunicator::all_reduce_sum(float* data, size_t count) {
  GST_NCCL_CHECK(ncclAllReduce(data, data, count, ncclFloat32, ncclSum, comm_, stream_));
  synchronize();
}

void NcclCommunicator::average_in_place(float* data, size_t count) {
  GST_NCCL_CHECK(ncclAllReduce(data, data, count, ncclFloat32, ncclAvg, comm_, stream_));
  synchronize();
}

std::unique_ptr<PendingCollective> NcclCommunicator::all_reduce_avg_async(float* data,
                                                                          size_t count) {
  return std::make_unique<NcclPendingAverage>(comm_, stream_, data, count);
}

void NcclCommunicator::broadcast(void* data, size_t bytes, int root) {
  GST_NCCL_CHECK(ncclBroadcast(data, data, bytes, ncclUint8, root, comm_, stream_));
  synchronize();
}

void NcclCommunicator::abort(int exit_code, const std::string& reason) {
  if (comm_) ncclCommAbort(comm_);
  comm_ = nullptr;
  host_->abort(exit_code, reason);
  std::abort();  // not reached: MpiCommunicator::abort does not return
}

}  // namespace gst
