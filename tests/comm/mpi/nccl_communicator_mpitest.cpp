// The NCCL backend on device buffers (cudaMalloc/cudaMemcpy, no torch CUDA needed). Skips with the
// reason when gst was built without NCCL or no GPU (one per rank) is visible. On a GPU machine:
//   mpirun -np 1 build/tests/gst_mpi_tests --gtest_filter='Nccl*'
#include <gtest/gtest.h>

#include "comm/mpi_communicator.h"
#include "common/errors.h"
#include "test_support.h"
#ifdef GST_WITH_NCCL
#include "comm/nccl_communicator.h"
#endif

namespace gst {
namespace {

using testing::world;

#ifdef GST_WITH_NCCL

// A cudaMalloc'd buffer filled from and read back to the host.
template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(const std::vector<T>& host) : count_(host.size()) {
    GST_CUDA_CHECK(cudaMalloc(&data_, std::max<size_t>(count_, 1) * sizeof(T)));
    GST_CUDA_CHECK(cudaMemcpy(data_, host.data(), count_ * sizeof(T), cudaMemcpyHostToDevice));
  }
  ~DeviceBuffer() { cudaFree(data_); }
  T* data() { return data_; }
  std::vector<T> host() const {
    std::vector<T> out(count_);
    GST_CUDA_CHECK(cudaMemcpy(out.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost));
    return out;
  }

 private:
  T* data_ = nullptr;
  size_t count_;
};
using DeviceFloats = DeviceBuffer<float>;

// Why the NCCL tests cannot run here, or empty when they can.
std::string skip_reason() {
  if (!nccl_gpu_visible()) return "no GPU";
  int gpus = 0;
  cudaGetDeviceCount(&gpus);
  const double ranks_on_host = world().scalar_max(world().local_rank()) + 1;
  if (ranks_on_host > gpus)
    return std::to_string(static_cast<int>(ranks_on_host)) + " ranks on this host but " +
           std::to_string(gpus) + " GPU(s): NCCL needs one GPU per rank";
  return "";
}

TEST(NcclCommunicator, CollectivesOnDeviceBuffers) {
  const std::string reason = skip_reason();
  if (!reason.empty()) GTEST_SKIP() << reason;
  NcclCommunicator comm;
  const int n = comm.size();
  EXPECT_EQ(comm.backend(), "nccl");
  EXPECT_TRUE(comm.device_buffers());
  EXPECT_EQ(comm.rank(), world().rank());
  EXPECT_EQ(n, world().size());
  EXPECT_EQ(comm.scalar_sum(1.0), n);  // host-side collectives go over MPI

  // float64 sums (GradientSync's buckets).
  for (size_t count : {size_t{1}, size_t{7}, size_t{1} << 20}) {
    std::vector<double> host(count);
    for (size_t i = 0; i < count; ++i) host[i] = 1.0 + (comm.rank() + 1) * 1e-12 + (i % 97);
    DeviceBuffer<double> sum(host);
    auto pending = comm.all_reduce_sum_async(sum.data(), count);
    pending->wait();
    EXPECT_TRUE(pending->test());
    const auto got_sum = sum.host();
    for (size_t i = 0; i < count; ++i) {
      const double want = n * (1.0 + (i % 97)) + 1e-12 * n * (n + 1) / 2;
      ASSERT_NEAR(got_sum[i], want, 1e-15 * want) << "count " << count << " index " << i;
    }
  }
  for (int root = 0; root < n; ++root) {
    std::vector<float> host(4099, comm.rank() == root ? 3.25f + root : -1.0f);
    DeviceFloats data(host);
    comm.broadcast(data.data(), host.size() * sizeof(float), root);
    for (float v : data.host()) ASSERT_EQ(v, 3.25f + root);
  }
  comm.barrier();
}

TEST(NcclCommunicator, RequestingNcclWithoutAGpuIsAClearError) {
  if (nccl_gpu_visible()) GTEST_SKIP() << "a GPU is visible";
  try {
    make_communicator(Backend::Nccl);
    ADD_FAILURE() << "the NCCL backend started without a GPU";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sees no GPU"), std::string::npos) << e.what();
  }
  EXPECT_EQ(make_communicator(Backend::Auto)->backend(), "mpi");
}

TEST(NcclCommunicator, MoreRanksThanGpusPicksMpiForAutoAndIsAClearErrorForNccl) {
  const std::string reason = skip_reason();  // collective: every rank skips or none
  if (reason.find("one GPU per rank") == std::string::npos)
    GTEST_SKIP() << "needs more ranks than GPUs on this host ("
                 << (reason.empty() ? "every rank has a GPU" : reason) << ")";
  EXPECT_EQ(make_communicator(Backend::Auto)->backend(), "mpi");
  try {
    make_communicator(Backend::Nccl);
    ADD_FAILURE() << "two ranks started NCCL on one GPU";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("would share GPU"), std::string::npos) << e.what();
  }
}

#else

TEST(NcclCommunicator, CollectivesOnDeviceBuffers) {
  GTEST_SKIP() << "built without NCCL (GST_WITH_NCCL off)";
}

#endif

}  // namespace
}  // namespace gst
