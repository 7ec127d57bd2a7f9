#include "comm/nccl_communicator.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <map>

#include "comm/mpi_check.h"
#include "common/errors.h"

namespace gst {

namespace cuda {

void check(cudaError_t code, const char* call, const char* file, int line) {
  if (code == cudaSuccess) return;
  throw Error(fmt::format("CUDA call {} failed at {}:{} on rank {}: {}", call,
                          source_file_name(file), line, mpi::world_rank(),
                          cudaGetErrorString(code)));
}

void check(ncclResult_t code, const char* call, const char* file, int line) {
  if (code == ncclSuccess) return;
  throw Error(fmt::format("NCCL call {} failed at {}:{} on rank {}: {}", call,
                          source_file_name(file), line, mpi::world_rank(),
                          ncclGetErrorString(code)));
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

std::string rank_gpu_id(int local_rank) {
  if (!nccl_gpu_visible()) return "";
  int count = 0;
  GST_CUDA_CHECK(cudaGetDeviceCount(&count));
  char bus[64] = {0};
  GST_CUDA_CHECK(cudaDeviceGetPCIBusId(bus, sizeof(bus), local_rank % count));
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return std::string(host) + "/" + bus;
}

std::string nccl_unusable_reason(Communicator& comm, const std::string& gpu_id) {
  const auto ids = comm.all_gather(std::vector<uint8_t>(gpu_id.begin(), gpu_id.end()));
  std::map<std::string, int> first_rank_on;
  for (int r = 0; r < static_cast<int>(ids.size()); ++r) {
    const std::string id(ids[r].begin(), ids[r].end());
    if (id.empty()) return fmt::format("rank {} sees no GPU", r);
    const auto [it, inserted] = first_rank_on.emplace(id, r);
    if (!inserted) return fmt::format("ranks {} and {} would share GPU {}", it->second, r, id);
  }
  return "";
}

namespace {

// Polls `done` (an event) under the watchdog; NCCL errors of other ranks surface through
// ncclCommGetAsyncError while waiting.
void wait_for_event(cudaEvent_t done, ncclComm_t comm, CollectiveWatchdog& watchdog,
                    const char* what) {
  watchdog.wait_until(
      [done, comm] {
        ncclResult_t async = ncclSuccess;
        GST_NCCL_CHECK(ncclCommGetAsyncError(comm, &async));
        GST_NCCL_CHECK(async);
        const cudaError_t state = cudaEventQuery(done);
        if (state == cudaErrorNotReady) return false;
        GST_CUDA_CHECK(state);
        return true;
      },
      what,
      [] {
        abort_job_if_distributed(kStalledExitCode, "an NCCL collective stalled (report above)");
      });
}

// An in-place ncclAllReduce in flight on the communicator's stream, tracked by an event.
class NcclPendingReduce : public PendingCollective {
 public:
  NcclPendingReduce(ncclComm_t comm, cudaStream_t stream, void* data, size_t count,
                    ncclDataType_t type, ncclRedOp_t op, CollectiveWatchdog& watchdog)
      : comm_(comm), watchdog_(watchdog) {
    GST_NCCL_CHECK(ncclAllReduce(data, data, count, type, op, comm, stream));
    GST_CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
    GST_CUDA_CHECK(cudaEventRecord(done_, stream));
  }
  ~NcclPendingReduce() override {
    if (done_) {
      cudaEventSynchronize(done_);
      cudaEventDestroy(done_);
    }
  }
  void wait() override { wait_for_event(done_, comm_, watchdog_, "gradient all-reduce (NCCL)"); }
  bool test() override {
    const cudaError_t state = cudaEventQuery(done_);
    if (state == cudaErrorNotReady) return false;
    GST_CUDA_CHECK(state);
    return true;
  }

 private:
  cudaEvent_t done_ = nullptr;
  ncclComm_t comm_;
  CollectiveWatchdog& watchdog_;
};

}  // namespace

NcclCommunicator::NcclCommunicator(double timeout_s)
    : host_(std::make_unique<MpiCommunicator>(timeout_s)) {
  // Checked together before NCCL starts, so every rank throws the same clear error (NCCL itself
  // only says "invalid usage" when two ranks share a GPU).
  const std::string unusable = nccl_unusable_reason(*host_, rank_gpu_id(local_rank()));
  if (!unusable.empty())
    fail(
        "the NCCL backend needs one GPU per rank, but {}; start at most as many ranks per host as "
        "it has GPUs, or use backend mpi",
        unusable);
  int count = 0;
  GST_CUDA_CHECK(cudaGetDeviceCount(&count));
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

void NcclCommunicator::synchronize(const char* what) {
  cudaEvent_t done = nullptr;
  GST_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
  std::unique_ptr<CUevent_st, cudaError_t (*)(cudaEvent_t)> owned(done, cudaEventDestroy);
  GST_CUDA_CHECK(cudaEventRecord(done, stream_));
  wait_for_event(done, comm_, host_->watchdog(), what);
}

void NcclCommunicator::barrier() {
  synchronize("barrier (NCCL stream)");
  host_->barrier();
}

std::unique_ptr<PendingCollective> NcclCommunicator::all_reduce_sum_async(double* data,
                                                                          size_t count) {
  return std::make_unique<NcclPendingReduce>(comm_, stream_, data, count, ncclFloat64, ncclSum,
                                             host_->watchdog());
}

void NcclCommunicator::broadcast(void* data, size_t bytes, int root) {
  GST_NCCL_CHECK(ncclBroadcast(data, data, bytes, ncclUint8, root, comm_, stream_));
  synchronize("broadcast (NCCL)");
}

void NcclCommunicator::abort(int exit_code) {
  // Reported, not thrown: the job is ending either way, and MPI_Abort must still run.
  if (comm_) {
    const ncclResult_t result = ncclCommAbort(comm_);
    if (result != ncclSuccess)
      std::fprintf(stderr, "gst: ncclCommAbort failed on rank %d: %s\n", rank(),
                   ncclGetErrorString(result));
  }
  comm_ = nullptr;
  host_->MpiCommunicator::abort(exit_code);  // non-virtual: the compiler sees it does not return
}

}  // namespace gst
