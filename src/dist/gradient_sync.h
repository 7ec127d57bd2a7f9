// Data-parallel gradient averaging: fused, bucketed all-reduces over one flat buffer per bucket,
// optionally overlapped with backward through autograd hooks; plus parameter broadcast and a
// cross-rank consistency check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dist/communicator.h"

namespace at {
class Tensor;
}

namespace gst {

struct GradientSyncOptions {
  size_t bucket_bytes = size_t{25} << 20;  // gradient bytes per fused all-reduce
  // Launch a bucket's all-reduce from autograd hooks as soon as its gradients are ready.
  bool overlap = false;
};

// Usage per step: zero the gradients, loss.backward(), finish(), optimizer step. The result is the
// same with overlap on and off. With overlap, exactly one backward may run per finish(), and
// buckets launch in order, so a parameter without a gradient holds back the buckets after its own
// until finish().
class GradientSync {
 public:
  // params: the trainable float32 parameters, in the same order on every rank (e.g. the model's
  // parameters()); names (optional, same length) are used in error messages. Buckets are filled in
  // reverse order, since backward produces the last layers' gradients first.
  GradientSync(Communicator& comm, const std::vector<at::Tensor>& params,
               GradientSyncOptions options = {}, std::vector<std::string> names = {});
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // After backward: every parameter's grad becomes its average over ranks. A parameter whose grad
  // is undefined on a rank contributes zeros there; it stays undefined only if it is undefined on
  // every rank (so optimizers skip it exactly as in a single-process run).
  void finish();

  size_t num_buckets() const;
  // Number of parameters in each bucket, in launch order.
  std::vector<size_t> bucket_param_counts() const;
  // Buckets whose all-reduce started during the last backward (overlap), not in finish().
  size_t last_early_launches() const;

  // Copies the parameter values of `root` to every rank (at start and after resume).
  void broadcast_parameters(int root = 0);
  // Throws gst::Error naming the step, the ranks whose parameters differ from rank 0's and the
  // first differing parameters. Collective; every rank throws the same error.
  void check_parameters_consistent(int64_t step);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Copies `tensors` (any dtypes, one fused broadcast per dtype) from `root` to every rank.
void broadcast_tensors(Communicator& comm, const std::vector<at::Tensor>& tensors, int root);

// A bitwise checksum (FNV-1a over the raw bytes) of one tensor, for comparing replicas.
uint64_t tensor_checksum(const at::Tensor& tensor);

}  // namespace gst
