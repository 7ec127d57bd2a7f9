// Data-parallel gradient summing: fused, bucketed all-reduces of float64 buffers, optionally
// overlapped with backward through autograd hooks; plus parameter broadcast and a cross-rank
// consistency check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "comm/communicator.h"

namespace at {
class Tensor;
}

namespace gst {

struct GradientSyncOptions {
  // float32 gradient bytes per fused all-reduce (the float64 buffers sent are twice as large)
  size_t bucket_bytes = size_t{25} << 20;
  // Launch a bucket's all-reduce from autograd hooks as soon as its gradients are ready.
  bool overlap = false;
};

// Usage per step: zero the gradients; run the step's backward passes (one per graph, say) as
// backward(loss_i, /*last=*/false) for all but the last and backward(loss_n) (or a plain
// loss_n.backward()) for the last; then finish() and the optimizer step. Each backward's float32
// gradients are added into float64 buffers; finish() sums those over ranks and rounds the sums to
// float32 once. The step's gradient is the sum over every rank's backward passes (scale the
// losses for a mean): summing a few float32 values in float64 is exact or within 1e-16, so it
// does not depend on which rank summed which graphs. The result is the same with overlap on and
// off. With overlap, the hooks of the last backward launch the buckets, in order, so a parameter
// without a gradient there holds back the buckets after its own until finish(); a second last
// backward before finish() is an error.
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

  // Runs loss.backward(). last = false: more backward passes of this step follow; the gradients
  // are added to the float64 sums and every parameter's grad is cleared (undefined) afterwards.
  // last = true: the same as loss.backward() (with overlap its hooks launch the buckets).
  void backward(const at::Tensor& loss, bool last = true);

  // After the last backward: every parameter's grad becomes the sum over ranks and backward
  // passes of its gradients, rounded once from float64 to float32. A parameter without a
  // gradient on a rank contributes zeros there; its grad stays undefined only if it has none on
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
