// Collectives of the MPI backend with uneven sizes (including empty) on every world size.
#include <gtest/gtest.h>

#include <numeric>

#include "comm/mpi_communicator.h"
#include "common/enum_names.h"
#include "common/errors.h"
#include "test_support.h"

namespace gst {
namespace {

using testing::world;

uint8_t pattern(int from, int to, size_t i) { return static_cast<uint8_t>(31 * from + 7 * to + i); }

TEST(MpiCommunicator, ReportsRankSizeAndBackend) {
  auto& comm = world();
  EXPECT_EQ(comm.backend(), "mpi");
  EXPECT_FALSE(comm.device_buffers());
  EXPECT_GE(comm.rank(), 0);
  EXPECT_LT(comm.rank(), comm.size());
  EXPECT_GE(comm.local_rank(), 0);
  EXPECT_LE(comm.local_rank(), comm.rank());  // all ranks of these tests share one host
  EXPECT_EQ(comm.scalar_sum(1.0), comm.size());
  EXPECT_EQ(comm.scalar_max(static_cast<double>(comm.rank())), comm.size() - 1);
}

// float64 sums (GradientSync's buckets) over uneven sizes keep double precision.
TEST(MpiCommunicator, AllReduceSumOfDoublesOverSizes) {
  auto& comm = world();
  const int n = comm.size();
  for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{100003}}) {
    std::vector<double> data(count);
    for (size_t i = 0; i < count; ++i) data[i] = 1.0 + (comm.rank() + 1) * 1e-12 + i;
    auto pending = comm.all_reduce_sum_async(data.data(), count);
    pending->wait();
    EXPECT_TRUE(pending->test());
    for (size_t i = 0; i < count; ++i) {
      const double sum = n * (1.0 + i) + 1e-12 * n * (n + 1) / 2;
      ASSERT_NEAR(data[i], sum, 1e-15 * sum) << "count " << count << " index " << i;
    }
  }
}

TEST(MpiCommunicator, AsyncSumsCompleteInAnyWaitOrder) {
  auto& comm = world();
  std::vector<std::vector<double>> buffers(4);
  std::vector<std::unique_ptr<PendingCollective>> pending;
  for (size_t b = 0; b < buffers.size(); ++b) {
    buffers[b].assign(1000 * (b + 1), static_cast<double>(comm.rank() * (b + 1)));
    pending.push_back(comm.all_reduce_sum_async(buffers[b].data(), buffers[b].size()));
  }
  for (size_t b = buffers.size(); b-- > 0;) pending[b]->wait();
  const double rank_sum = comm.size() * (comm.size() - 1) / 2.0;
  for (size_t b = 0; b < buffers.size(); ++b) {
    EXPECT_TRUE(pending[b]->test());
    for (double v : buffers[b]) ASSERT_EQ(v, rank_sum * (b + 1));
  }
}

TEST(MpiCommunicator, BroadcastFromEveryRoot) {
  auto& comm = world();
  for (int root = 0; root < comm.size(); ++root) {
    for (size_t bytes : {size_t{0}, size_t{1}, size_t{4099}}) {
      std::vector<uint8_t> data(bytes, 0);
      if (comm.rank() == root)
        for (size_t i = 0; i < bytes; ++i) data[i] = pattern(root, 0, i);
      comm.broadcast(data.data(), bytes, root);
      for (size_t i = 0; i < bytes; ++i) ASSERT_EQ(data[i], pattern(root, 0, i));
    }
  }
}

TEST(MpiCommunicator, AllGatherUnevenIncludingEmpty) {
  auto& comm = world();
  std::vector<uint8_t> local(3 * comm.rank());  // rank 0 sends nothing
  for (size_t i = 0; i < local.size(); ++i) local[i] = pattern(comm.rank(), 0, i);
  auto gathered = comm.all_gather(local);
  ASSERT_EQ(gathered.size(), static_cast<size_t>(comm.size()));
  for (int r = 0; r < comm.size(); ++r) {
    ASSERT_EQ(gathered[r].size(), static_cast<size_t>(3 * r));
    for (size_t i = 0; i < gathered[r].size(); ++i) ASSERT_EQ(gathered[r][i], pattern(r, 0, i));
  }
  auto all_empty = comm.all_gather({});
  for (const auto& part : all_empty) EXPECT_TRUE(part.empty());
}

TEST(MpiCommunicator, AllToAllUnevenIncludingEmpty) {
  auto& comm = world();
  const int n = comm.size(), me = comm.rank();
  auto size_of = [](int from, int to) { return static_cast<size_t>((from * 5 + to * 3) % 4) * 9; };
  std::vector<std::vector<uint8_t>> send(n);
  for (int to = 0; to < n; ++to) {
    send[to].resize(size_of(me, to));
    for (size_t i = 0; i < send[to].size(); ++i) send[to][i] = pattern(me, to, i);
  }
  auto recv = comm.all_to_all(send);
  ASSERT_EQ(recv.size(), static_cast<size_t>(n));
  for (int from = 0; from < n; ++from) {
    ASSERT_EQ(recv[from].size(), size_of(from, me)) << "from rank " << from;
    for (size_t i = 0; i < recv[from].size(); ++i) ASSERT_EQ(recv[from][i], pattern(from, me, i));
  }
  auto empty = comm.all_to_all(std::vector<std::vector<uint8_t>>(n));
  for (const auto& part : empty) EXPECT_TRUE(part.empty());
  EXPECT_THROW(comm.all_to_all(std::vector<std::vector<uint8_t>>(n + 1)), Error);
}

TEST(MpiCommunicator, FirstRanksFormASmallerWorld) {
  auto& comm = world();
  for (int n = 1; n <= comm.size(); ++n) {
    auto sub = comm.first_ranks(n);
    ASSERT_EQ(sub != nullptr, comm.rank() < n);
    if (!sub) continue;
    EXPECT_EQ(sub->size(), n);
    EXPECT_EQ(sub->rank(), comm.rank());
    EXPECT_EQ(sub->scalar_sum(1.0), n);
  }
  comm.barrier();
}

TEST(MakeCommunicator, PicksMpiHereAndRejectsUnknownBackends) {
  auto comm = make_communicator(Backend::Mpi);
  EXPECT_EQ(comm->backend(), "mpi");
  EXPECT_EQ(comm->size(), world().size());
  EXPECT_THROW(parse_enum<Backend>("gloo", "--backend"), InputError);
#ifndef GST_WITH_NCCL
  try {
    make_communicator(Backend::Nccl);
    ADD_FAILURE() << "nccl without NCCL support must fail";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("without NCCL"), std::string::npos) << e.what();
  }
#endif
}

}  // namespace
}  // namespace gst
