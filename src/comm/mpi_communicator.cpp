#include "comm/mpi_communicator.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <utility>

#include "comm/mpi_check.h"
#include "common/errors.h"

namespace gst {
namespace mpi {

void check(int code, const char* call, const char* file, int line) {
  if (code == MPI_SUCCESS) return;
  char message[MPI_MAX_ERROR_STRING] = {0};
  int length = 0;
  if (MPI_Error_string(code, message, &length) != MPI_SUCCESS)
    std::snprintf(message, sizeof(message), "error code %d", code);
  throw Error(fmt::format("MPI call {} failed at {}:{} on rank {}: {}", call,
                          source_file_name(file), line, world_rank(), message));
}

bool running() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

int world_rank() {
  int rank = -1;
  if (running()) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

static void finalize_at_exit() {
  if (running()) MPI_Finalize();
}

void ensure_initialized() {
  static std::once_flag once;
  std::call_once(once, [] {
    int initialized = 0;
    GST_MPI_CHECK(MPI_Initialized(&initialized));
    if (initialized) return;
    // SERIALIZED rather than FUNNELED: autograd hooks may start collectives from an engine
    // thread, never concurrently with the main thread's calls.
    int provided = 0;
    GST_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided));
    std::atexit(finalize_at_exit);
    GST_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    if (provided < MPI_THREAD_SERIALIZED)
      fail("MPI provides thread level {} but gst needs MPI_THREAD_SERIALIZED ({})", provided,
           static_cast<int>(MPI_THREAD_SERIALIZED));
  });
}

}  // namespace mpi

namespace {

// MPI counts are ints: larger exchanges are a clear error rather than a silent overflow.
int mpi_count(size_t n, const char* what) {
  if (n > static_cast<size_t>(INT_MAX))
    fail("{} of {} elements exceeds MPI's int count limit", what, n);
  return static_cast<int>(n);
}

// An in-place MPI_Iallreduce(SUM) of `count` elements of `type`, completed under the watchdog.
// Completion (a wait, or an MPI_Test that finds it done) sets the request to MPI_REQUEST_NULL.
class MpiPendingSum : public PendingCollective {
 public:
  MpiPendingSum(MPI_Comm comm, void* data, size_t count, MPI_Datatype type, const char* what,
                std::function<void(MPI_Request*, const char*)> finish)
      : what_(what), finish_(std::move(finish)) {
    GST_MPI_CHECK(
        MPI_Iallreduce(MPI_IN_PLACE, data, mpi_count(count, what), type, MPI_SUM, comm, &request_));
  }
  ~MpiPendingSum() override {
    if (request_ != MPI_REQUEST_NULL && mpi::running()) MPI_Wait(&request_, MPI_STATUS_IGNORE);
  }
  void wait() override {
    if (request_ != MPI_REQUEST_NULL) finish_(&request_, what_);
  }
  bool test() override {
    if (request_ == MPI_REQUEST_NULL) return true;
    int flag = 0;
    GST_MPI_CHECK(MPI_Test(&request_, &flag, MPI_STATUS_IGNORE));
    return flag != 0;
  }

 private:
  MPI_Request request_ = MPI_REQUEST_NULL;
  const char* what_;
  std::function<void(MPI_Request*, const char*)> finish_;
};

}  // namespace

MpiCommunicator::MpiCommunicator(double timeout_s)
    : MpiCommunicator((mpi::ensure_initialized(), MPI_COMM_WORLD), timeout_s) {}

MpiCommunicator::MpiCommunicator(MPI_Comm parent, double timeout_s) {
  mpi::ensure_initialized();
  GST_MPI_CHECK(MPI_Comm_dup(parent, &comm_));
  GST_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  GST_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  GST_MPI_CHECK(MPI_Comm_size(comm_, &size_));
  MPI_Comm host = MPI_COMM_NULL;
  GST_MPI_CHECK(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &host));
  GST_MPI_CHECK(MPI_Comm_rank(host, &local_rank_));
  GST_MPI_CHECK(MPI_Comm_free(&host));
  watchdog_ = std::make_unique<CollectiveWatchdog>(comm_, timeout_s);
}

MpiCommunicator::~MpiCommunicator() {
  watchdog_.reset();
  if (comm_ != MPI_COMM_NULL && mpi::running()) MPI_Comm_free(&comm_);
}

std::unique_ptr<MpiCommunicator> MpiCommunicator::first_ranks(int n) const {
  MPI_Comm sub = MPI_COMM_NULL;
  GST_MPI_CHECK(MPI_Comm_split(comm_, rank_ < n ? 0 : MPI_UNDEFINED, rank_, &sub));
  if (sub == MPI_COMM_NULL) return nullptr;
  auto result = std::make_unique<MpiCommunicator>(sub, watchdog_->timeout_s());
  GST_MPI_CHECK(MPI_Comm_free(&sub));
  return result;
}

void MpiCommunicator::finish(MPI_Request* request, const char* what) {
  // Through the job communicator, so that an NCCL communicator over this one is aborted too.
  watchdog_->wait(request, what, [] {
    abort_job_if_distributed(kStalledExitCode, "a collective stalled (stall report above)");
  });
}

void MpiCommunicator::barrier() {
  MPI_Request request;
  GST_MPI_CHECK(MPI_Ibarrier(comm_, &request));
  finish(&request, "barrier");
}

std::unique_ptr<PendingCollective> MpiCommunicator::all_reduce_sum_async(double* data,
                                                                         size_t count) {
  return std::make_unique<MpiPendingSum>(
      comm_, data, count, MPI_DOUBLE, "gradient all-reduce",
      [this](MPI_Request* request, const char* what) { finish(request, what); });
}

void MpiCommunicator::broadcast(void* data, size_t bytes, int root) {
  constexpr size_t kChunk = size_t{1} << 30;
  auto* p = static_cast<uint8_t*>(data);
  for (size_t done = 0; done < bytes; done += kChunk) {
    const int n = static_cast<int>(std::min(kChunk, bytes - done));
    MPI_Request request;
    GST_MPI_CHECK(MPI_Ibcast(p + done, n, MPI_BYTE, root, comm_, &request));
    finish(&request, "broadcast");
  }
}

double MpiCommunicator::scalar_sum(double value) {
  double result = 0;
  MPI_Request request;
  GST_MPI_CHECK(MPI_Iallreduce(&value, &result, 1, MPI_DOUBLE, MPI_SUM, comm_, &request));
  finish(&request, "scalar sum");
  return result;
}

double MpiCommunicator::scalar_max(double value) {
  double result = 0;
  MPI_Request request;
  GST_MPI_CHECK(MPI_Iallreduce(&value, &result, 1, MPI_DOUBLE, MPI_MAX, comm_, &request));
  finish(&request, "scalar max");
  return result;
}

std::vector<std::vector<uint8_t>> MpiCommunicator::all_gather(const std::vector<uint8_t>& local) {
  int my_count = mpi_count(local.size(), "all_gather");
  std::vector<int> counts(size_), displs(size_);
  MPI_Request request;
  GST_MPI_CHECK(MPI_Iallgather(&my_count, 1, MPI_INT, counts.data(), 1, MPI_INT, comm_, &request));
  finish(&request, "all_gather sizes");
  size_t total = 0;
  for (int r = 0; r < size_; ++r) {
    displs[r] = mpi_count(total, "all_gather total");
    total += counts[r];
  }
  mpi_count(total, "all_gather total");
  std::vector<uint8_t> flat(std::max<size_t>(total, 1));  // never a null buffer
  uint8_t dummy = 0;
  GST_MPI_CHECK(MPI_Iallgatherv(local.empty() ? &dummy : local.data(), my_count, MPI_BYTE,
                                flat.data(), counts.data(), displs.data(), MPI_BYTE, comm_,
                                &request));
  finish(&request, "all_gather");
  std::vector<std::vector<uint8_t>> result(size_);
  for (int r = 0; r < size_; ++r)
    result[r].assign(flat.begin() + displs[r], flat.begin() + displs[r] + counts[r]);
  return result;
}

std::vector<std::vector<uint8_t>> MpiCommunicator::all_to_all(
    const std::vector<std::vector<uint8_t>>& send) {
  GST_CHECK(static_cast<int>(send.size()) == size_,
            "all_to_all needs one send buffer per rank ({}), got {}", size_, send.size());
  std::vector<int> send_counts(size_), send_displs(size_), recv_counts(size_), recv_displs(size_);
  size_t send_total = 0;
  for (int r = 0; r < size_; ++r) {
    send_counts[r] = mpi_count(send[r].size(), "all_to_all send");
    send_displs[r] = mpi_count(send_total, "all_to_all send total");
    send_total += send[r].size();
  }
  mpi_count(send_total, "all_to_all send total");
  MPI_Request request;
  GST_MPI_CHECK(MPI_Ialltoall(send_counts.data(), 1, MPI_INT, recv_counts.data(), 1, MPI_INT, comm_,
                              &request));
  finish(&request, "all_to_all sizes");
  size_t recv_total = 0;
  for (int r = 0; r < size_; ++r) {
    recv_displs[r] = mpi_count(recv_total, "all_to_all receive total");
    recv_total += recv_counts[r];
  }
  mpi_count(recv_total, "all_to_all receive total");
  std::vector<uint8_t> send_flat(std::max<size_t>(send_total, 1));
  for (int r = 0; r < size_; ++r)
    std::copy(send[r].begin(), send[r].end(), send_flat.begin() + send_displs[r]);
  std::vector<uint8_t> recv_flat(std::max<size_t>(recv_total, 1));
  GST_MPI_CHECK(MPI_Ialltoallv(send_flat.data(), send_counts.data(), send_displs.data(), MPI_BYTE,
                               recv_flat.data(), recv_counts.data(), recv_displs.data(), MPI_BYTE,
                               comm_, &request));
  finish(&request, "all_to_all");
  std::vector<std::vector<uint8_t>> result(size_);
  for (int r = 0; r < size_; ++r)
    result[r].assign(recv_flat.begin() + recv_displs[r],
                     recv_flat.begin() + recv_displs[r] + recv_counts[r]);
  return result;
}

void MpiCommunicator::abort(int exit_code) {
  // MPI_COMM_WORLD rather than comm_: every process of the job ends, not only this group.
  MPI_Abort(MPI_COMM_WORLD, exit_code == 0 ? 1 : exit_code);
  std::_Exit(exit_code == 0 ? 1 : exit_code);
}

}  // namespace gst
