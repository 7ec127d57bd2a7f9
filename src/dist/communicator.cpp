#include "dist/communicator.h"

#include <spdlog/spdlog.h>
#include <torch/cuda.h>

#include <cstdio>
#include <cstdlib>

#include "common/errors.h"
#include "dist/mpi_check.h"
#include "dist/mpi_communicator.h"
#ifdef GST_WITH_NCCL
#include "dist/nccl_communicator.h"
#endif

namespace gst {

namespace {

// An async collective that completed when it was started.
class CompletedCollective : public PendingCollective {
 public:
  void wait() override {}
  bool test() override { return true; }
};

#ifdef GST_WITH_NCCL
// Backend auto: NCCL only when torch has CUDA and every rank has a GPU of its own; decided
// together, so all ranks pick the same backend.
bool nccl_usable_on_every_rank() {
  MpiCommunicator world;
  const std::string gpu = torch::cuda::is_available() ? rank_gpu_id(world.local_rank()) : "";
  return nccl_unusable_reason(world, gpu).empty();
}
#endif

}  // namespace

void Communicator::all_reduce_avg(float* data, size_t count) { average_in_place(data, count); }

void Communicator::average_in_place(float* data, size_t count) {
  all_reduce_sum(data, count);
  const float n = static_cast<float>(size());
  for (size_t i = 0; i < count; ++i) data[i] /= n;
}

std::unique_ptr<PendingCollective> Communicator::all_reduce_sum_async(double* data, size_t count) {
  all_reduce_sum(data, count);
  return std::make_unique<CompletedCollective>();
}

std::unique_ptr<Communicator> make_communicator(const std::string& backend) {
  if (backend != "auto" && backend != "mpi" && backend != "nccl")
    input_error("unknown communicator backend '{}': expected auto, mpi or nccl", backend);
#ifdef GST_WITH_NCCL
  if (backend == "nccl" || (backend == "auto" && nccl_usable_on_every_rank()))
    return std::make_unique<NcclCommunicator>();
#else
  if (backend == "nccl")
    input_error(
        "backend 'nccl' was requested but this gst was built without NCCL (configure with "
        "-DGST_WITH_NCCL=ON and CUDA/NCCL under CUDA_HOME), or use backend 'mpi' or 'auto'");
#endif
  return std::make_unique<MpiCommunicator>();
}

void abort_job_if_distributed(int exit_code, const std::string& reason) {
  if (!mpi::running()) return;
  int size = 1;
  if (MPI_Comm_size(MPI_COMM_WORLD, &size) != MPI_SUCCESS || size <= 1) return;
  std::fprintf(stderr, "gst: rank %d of %d failed: %s; aborting the job\n", mpi::world_rank(), size,
               reason.c_str());
  std::fflush(stderr);
  spdlog::default_logger()->flush();
  MPI_Abort(MPI_COMM_WORLD, exit_code == 0 ? 1 : exit_code);
  std::_Exit(exit_code == 0 ? 1 : exit_code);
}

}  // namespace gst
