#include "comm/communicator.h"

#include <spdlog/spdlog.h>
#include <torch/cuda.h>

#include <cstdio>
#include <cstdlib>

#include "comm/mpi_check.h"
#include "comm/mpi_communicator.h"
#include "common/errors.h"
#ifdef GST_WITH_NCCL
#include "comm/nccl_communicator.h"
#endif

namespace gst {

namespace {

// Owned here rather than by the command that made it: main aborts through it after the command's
// scope has unwound.
std::unique_ptr<Communicator>& job_slot() {
  static std::unique_ptr<Communicator> job;
  return job;
}

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

std::unique_ptr<Communicator> make_communicator(Backend backend, double timeout_s) {
#ifdef GST_WITH_NCCL
  if (backend == Backend::Nccl || (backend == Backend::Auto && nccl_usable_on_every_rank()))
    return std::make_unique<NcclCommunicator>(timeout_s);
#else
  if (backend == Backend::Nccl)
    input_error(
        "backend 'nccl' was requested but this gst was built without NCCL (configure with "
        "-DGST_WITH_NCCL=ON and CUDA/NCCL under CUDA_HOME), or use backend 'mpi' or 'auto'");
#endif
  return std::make_unique<MpiCommunicator>(timeout_s);
}

Communicator& job_communicator(Backend backend, double timeout_s) {
  auto& job = job_slot();
  if (!job) job = make_communicator(backend, timeout_s);
  return *job;
}

void close_job_communicator() { job_slot().reset(); }

void abort_job_if_distributed(int exit_code, const std::string& reason) {
  if (!mpi::running()) return;
  int size = 1;
  if (MPI_Comm_size(MPI_COMM_WORLD, &size) != MPI_SUCCESS || size <= 1) return;
  std::fprintf(stderr, "gst: rank %d of %d failed: %s; aborting the job\n", mpi::world_rank(), size,
               reason.c_str());
  std::fflush(stderr);
  spdlog::default_logger()->flush();
  const int code = exit_code == 0 ? 1 : exit_code;
  if (job_slot()) job_slot()->abort(code);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

}  // namespace gst
