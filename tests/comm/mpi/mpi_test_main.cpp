// Entry point of gst_mpi_tests: rank 0 prints gtest's report, other ranks print only their
// failures (prefixed with the rank), and every rank exits non-zero when any rank failed.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>

#include "comm/mpi_communicator.h"
#include "test_support.h"

namespace {

class RankFailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::fprintf(stderr, "[rank %d] %s:%d: failure\n%s\n", rank_,
                 result.file_name() ? result.file_name() : "?", result.line_number(),
                 result.summary());
  }

 private:
  int rank_;
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  torch::set_num_threads(1);
  auto& world = gst::testing::world();
  if (world.rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new RankFailurePrinter(world.rank()));
  }
  const int local_failed = RUN_ALL_TESTS() != 0 ? 1 : 0;
  const double any_failed = world.scalar_max(local_failed);
  if (world.rank() == 0 && any_failed && !local_failed)
    std::fprintf(stderr, "another rank failed (see its [rank N] lines above)\n");
  return any_failed ? 1 : 0;
}
