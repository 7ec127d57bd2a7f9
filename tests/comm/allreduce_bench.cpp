// Gradient all-reduce of a cost-model-sized gradient (~1.6 M floats in 30 tensors): fused float64
// buckets (GradientSync) vs one float32 all-reduce per parameter vs one raw MPI_Allreduce of the
// same floats (and of them as doubles, the bytes GradientSync sends).
// Run: OMP_NUM_THREADS=1 mpirun -np 2 build/tests/allreduce_bench [steps]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <functional>

#include "comm/gradient_sync.h"
#include "comm/mpi_communicator.h"

namespace {

using Clock = std::chrono::steady_clock;

// Parameter shapes of a SAGE cost model: opcode embedding, input projection, 4 layers of
// (in, out, self) weights with norms, pooling and head MLP.
std::vector<std::vector<int64_t>> model_shapes() {
  std::vector<std::vector<int64_t>> shapes = {{120, 64}, {256, 222}, {256}};
  for (int layer = 0; layer < 4; ++layer)
    for (auto shape :
         std::vector<std::vector<int64_t>>{{256, 256}, {256, 256}, {256, 256}, {256}, {256}, {256}})
      shapes.push_back(shape);
  for (auto shape :
       std::vector<std::vector<int64_t>>{{512, 512}, {512}, {256, 512}, {256}, {1, 256}})
    shapes.push_back(shape);
  return shapes;
}

// Mean seconds per call over `steps` after `warmup`, the slowest rank's figure.
double time_per_step(gst::Communicator& comm, int warmup, int steps,
                     const std::function<void()>& f) {
  for (int i = 0; i < warmup; ++i) f();
  comm.barrier();
  const auto start = Clock::now();
  for (int i = 0; i < steps; ++i) f();
  const double local = std::chrono::duration<double>(Clock::now() - start).count() / steps;
  return comm.scalar_max(local);
}

}  // namespace

int main(int argc, char** argv) {
  torch::set_num_threads(1);
  const int steps = argc > 1 ? std::atoi(argv[1]) : 50;
  gst::MpiCommunicator comm;
  const int n = comm.size();

  std::vector<torch::Tensor> params;
  int64_t total = 0;
  for (const auto& shape : model_shapes()) {
    params.push_back(torch::zeros(shape).requires_grad_(true));
    total += params.back().numel();
  }
  auto fill_grads = [&] {
    for (auto& p : params) p.mutable_grad() = torch::full(p.sizes(), comm.rank() + 1.0f);
  };
  fill_grads();

  std::vector<std::pair<std::string, double>> results;
  for (size_t bucket_mb : {1, 4, 25}) {
    gst::GradientSync sync(comm, params, {bucket_mb << 20, false});
    const double t = time_per_step(comm, 5, steps, [&] {
      fill_grads();
      sync.finish();
    });
    for (auto& p : params)  // the sum of rank+1 over ranks
      if (!torch::allclose(p.grad(), torch::full(p.sizes(), n * (n + 1) / 2.0f))) {
        std::fprintf(stderr, "fused all-reduce gave a wrong sum\n");
        return 1;
      }
    const double fill = time_per_step(comm, 2, steps, fill_grads);
    results.push_back({"fused, " + std::to_string(sync.num_buckets()) +
                           " bucket(s) of <= " + std::to_string(bucket_mb) + " MB",
                       t - fill});
  }
  const double per_param = time_per_step(comm, 5, steps, [&] {
    for (auto& p : params)
      GST_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, p.mutable_grad().data_ptr<float>(),
                                  static_cast<int>(p.numel()), MPI_FLOAT, MPI_SUM, comm.handle()));
  });
  results.push_back(
      {"one MPI_Allreduce per parameter (" + std::to_string(params.size()) + ")", per_param});
  std::vector<float> flat(total, 1.0f);
  const double raw = time_per_step(comm, 5, steps, [&] {
    MPI_Allreduce(MPI_IN_PLACE, flat.data(), static_cast<int>(total), MPI_FLOAT, MPI_SUM,
                  comm.handle());
  });
  results.push_back({"raw MPI_Allreduce of the same bytes", raw});
  const double raw_nb = time_per_step(comm, 5, steps, [&] {
    MPI_Request request;
    MPI_Iallreduce(MPI_IN_PLACE, flat.data(), static_cast<int>(total), MPI_FLOAT, MPI_SUM,
                   comm.handle(), &request);
    MPI_Wait(&request, MPI_STATUS_IGNORE);
  });
  results.push_back({"raw MPI_Iallreduce + MPI_Wait of the same bytes", raw_nb});
  std::vector<double> flat64(total, 1.0);
  const double raw64 = time_per_step(comm, 5, steps, [&] {
    MPI_Allreduce(MPI_IN_PLACE, flat64.data(), static_cast<int>(total), MPI_DOUBLE, MPI_SUM,
                  comm.handle());
  });
  results.push_back({"raw MPI_Allreduce of them as doubles", raw64});

  if (comm.rank() == 0) {
    std::printf("gradient all-reduce: %d ranks, %zu tensors, %lld floats (%.2f MB), %d steps\n", n,
                params.size(), static_cast<long long>(total), total * 4 / 1e6, steps);
    for (const auto& [name, seconds] : results)
      std::printf("  %-48s %8.3f ms/step  %7.2f GB/s algbw\n", name.c_str(), seconds * 1e3,
                  total * 4 / seconds / 1e9);
    std::printf(
        "  (fused figures exclude refilling the gradients, timed separately; algbw counts the "
        "float32 gradient bytes)\n");
  }
  return 0;
}
