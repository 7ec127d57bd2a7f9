#include "comm/gradient_sync.h"

#include <torch/torch.h>

#include <cstring>
#include <map>

#include "common/errors.h"

namespace gst {

namespace {

// One fused all-reduce: the float64 sums of the gradients of `params` back to back, then one
// presence flag per parameter (1 where this rank has a gradient), so undefined-everywhere stays
// undefined.
struct Bucket {
  std::vector<size_t> params;
  std::vector<int64_t> offsets;
  int64_t numel = 0;
  torch::Tensor flat;  // [numel + params.size()] float64, on the parameters' device
  size_t pending = 0;  // parameters whose gradient has not arrived in the step's last backward
  std::unique_ptr<PendingCollective> inflight;
};

}  // namespace

struct GradientSync::Impl {
  Communicator& comm;
  GradientSyncOptions options;
  std::vector<torch::Tensor> params;
  std::vector<std::string> names;
  std::vector<Bucket> buckets;
  std::vector<size_t> bucket_of, slot_of;  // parameter -> (bucket, index within it)
  std::vector<bool> contributed;           // a gradient was added to the bucket in this step
  std::vector<bool> received;              // gradient arrived through a hook in this backward
  std::vector<unsigned> hooks;
  bool more_backwards = false;  // inside backward(loss, last = false): hooks only accumulate
  size_t next_launch = 0;       // buckets launch strictly in order, the same on every rank
  size_t early_launches = 0, last_early_launches = 0;

  Impl(Communicator& c, const std::vector<torch::Tensor>& p, GradientSyncOptions o,
       std::vector<std::string> n)
      : comm(c), options(o), params(p), names(std::move(n)) {
    if (names.empty())
      for (size_t i = 0; i < params.size(); ++i) names.push_back("parameter " + std::to_string(i));
    GST_CHECK(names.size() == params.size(), "GradientSync: {} names for {} parameters",
              names.size(), params.size());
    validate();
    make_buckets();
    contributed.assign(params.size(), false);
    received.assign(params.size(), false);
    if (options.overlap) register_hooks();
  }

  ~Impl() {
    for (size_t i = 0; i < hooks.size(); ++i) params[i].remove_hook(hooks[i]);
  }

  void validate() const {
    for (size_t i = 0; i < params.size(); ++i) {
      const auto& p = params[i];
      GST_CHECK(p.defined() && p.scalar_type() == torch::kFloat32,
                "GradientSync: '{}' must be a float32 tensor", names[i]);
      GST_CHECK(p.requires_grad(),
                "GradientSync: '{}' does not require grad; pass only trainable "
                "parameters",
                names[i]);
      GST_CHECK(p.device() == params[0].device(), "GradientSync: '{}' is on {} but '{}' is on {}",
                names[i], p.device().str(), names[0], params[0].device().str());
    }
    if (!params.empty() && comm.device_buffers() && !params[0].is_cuda())
      input_error(
          "the {} communicator reduces GPU buffers but the model's parameters are on {}; use "
          "dist.backend=mpi (or auto) with CPU training",
          comm.backend(), params[0].device().str());
    if (!params.empty() && !comm.device_buffers() && !params[0].is_cpu())
      input_error("the {} communicator reduces host buffers but the parameters are on {}",
                  comm.backend(), params[0].device().str());
  }

  // Bucket sizes count the float32 gradient bytes (the float64 buffers are twice as large).
  void make_buckets() {
    bucket_of.assign(params.size(), 0);
    slot_of.assign(params.size(), 0);
    size_t bytes = 0;
    for (size_t k = params.size(); k-- > 0;) {
      const size_t param_bytes = params[k].numel() * sizeof(float);
      if (buckets.empty() ||
          (!buckets.back().params.empty() && bytes + param_bytes > options.bucket_bytes)) {
        buckets.emplace_back();
        bytes = 0;
      }
      Bucket& b = buckets.back();
      bucket_of[k] = buckets.size() - 1;
      slot_of[k] = b.params.size();
      b.params.push_back(k);
      b.offsets.push_back(b.numel);
      b.numel += params[k].numel();
      bytes += param_bytes;
    }
    for (Bucket& b : buckets) {
      b.flat = torch::zeros({b.numel + static_cast<int64_t>(b.params.size())},
                            params[0].options().dtype(torch::kFloat64).requires_grad(false));
      b.pending = b.params.size();
    }
  }

  void register_hooks() {
    for (size_t i = 0; i < params.size(); ++i)
      hooks.push_back(
          params[i].register_hook([this, i](const torch::Tensor& grad) { on_gradient(i, grad); }));
  }

  torch::Tensor slice(size_t param) {
    Bucket& b = buckets[bucket_of[param]];
    return b.flat.narrow(0, b.offsets[slot_of[param]], params[param].numel());
  }

  void set_flag(size_t param, double value) {
    Bucket& b = buckets[bucket_of[param]];
    b.flat.narrow(0, b.numel + static_cast<int64_t>(slot_of[param]), 1).fill_(value);
  }

  // Adds one float32 gradient to the parameter's float64 sum (the first one is copied): exact
  // conversion, one float64 rounding per addition.
  void add(size_t param, const torch::Tensor& grad) {
    torch::Tensor sum = slice(param);
    if (contributed[param]) {
      sum.add_(grad.reshape({-1}));
    } else {
      sum.copy_(grad.reshape({-1}));
      set_flag(param, 1.0);
      contributed[param] = true;
    }
  }

  void on_gradient(size_t param, const torch::Tensor& grad) {
    if (received[param])
      fail(
          "GradientSync: '{}' received a second gradient in one backward pass; with overlap on, "
          "run every backward of a step but the last through backward(loss, /*last=*/false)",
          names[param]);
    torch::NoGradGuard no_grad;
    received[param] = true;
    add(param, grad);
    if (more_backwards) return;  // the buckets launch during the step's last backward
    if (--buckets[bucket_of[param]].pending == 0) {
      const size_t before = next_launch;
      launch_ready_buckets();
      early_launches += next_launch - before;
    }
    // Non-blocking collectives progress only inside MPI calls: nudge the ones in flight.
    for (size_t b = 0; b < next_launch; ++b)
      if (buckets[b].inflight) buckets[b].inflight->test();
  }

  void backward(const torch::Tensor& loss, bool last) {
    if (last) {
      loss.backward();
      return;
    }
    more_backwards = true;
    try {
      loss.backward();
    } catch (...) {
      more_backwards = false;
      throw;
    }
    more_backwards = false;
    // Gradients that did not come through a hook go into the sums here; every grad is then
    // cleared, so the next backward's grad holds its own gradient only.
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) {
      if (!received[i] && params[i].grad().defined()) add(i, params[i].grad());
      params[i].mutable_grad() = torch::Tensor();
    }
    received.assign(params.size(), false);
  }

  void launch_ready_buckets() {
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
      Bucket& b = buckets[next_launch++];
      b.inflight = comm.all_reduce_sum_async(b.flat.data_ptr<double>(), b.flat.numel());
    }
  }

  // Gradients of the last backward that did not come through a hook: the parameter's grad; a
  // parameter without any gradient in this step contributes zeros.
  void fill_missing(Bucket& b) {
    for (size_t param : b.params) {
      const torch::Tensor& grad = params[param].grad();
      if (!received[param] && grad.defined()) add(param, grad);
      if (!contributed[param]) {
        slice(param).zero_();
        set_flag(param, 0.0);
      }
    }
    b.pending = 0;
  }

  void finish() {
    torch::NoGradGuard no_grad;
    for (size_t k = next_launch; k < buckets.size(); ++k) fill_missing(buckets[k]);
    launch_ready_buckets();
    for (Bucket& b : buckets) {
      b.inflight->wait();
      b.inflight.reset();
      scatter(b);
      b.pending = b.params.size();
    }
    contributed.assign(params.size(), false);
    received.assign(params.size(), false);
    next_launch = 0;
    last_early_launches = early_launches;
    early_launches = 0;
  }

  // The float64 sums, rounded once to float32, become the gradients.
  void scatter(Bucket& b) {
    const auto flags = b.flat.narrow(0, b.numel, b.params.size()).cpu();
    const double* present = flags.data_ptr<double>();
    for (size_t s = 0; s < b.params.size(); ++s) {
      if (present[s] == 0) continue;  // undefined on every rank
      torch::Tensor& param = params[b.params[s]];
      auto sum = b.flat.narrow(0, b.offsets[s], param.numel()).view(param.sizes());
      if (param.grad().defined())
        param.mutable_grad().copy_(sum);
      else
        param.mutable_grad() = sum.to(torch::kFloat32);
    }
  }
};

GradientSync::GradientSync(Communicator& comm, const std::vector<at::Tensor>& params,
                           GradientSyncOptions options, std::vector<std::string> names)
    : impl_(std::make_unique<Impl>(comm, params, options, std::move(names))) {}

GradientSync::~GradientSync() = default;

void GradientSync::backward(const at::Tensor& loss, bool last) { impl_->backward(loss, last); }

void GradientSync::finish() { impl_->finish(); }

size_t GradientSync::num_buckets() const { return impl_->buckets.size(); }

std::vector<size_t> GradientSync::bucket_param_counts() const {
  std::vector<size_t> counts;
  for (const auto& b : impl_->buckets) counts.push_back(b.params.size());
  return counts;
}

size_t GradientSync::last_early_launches() const { return impl_->last_early_launches; }

void GradientSync::broadcast_parameters(int root) {
  broadcast_tensors(impl_->comm, impl_->params, root);
}

void GradientSync::check_parameters_consistent(int64_t step) {
  const auto& params = impl_->params;
  std::vector<uint8_t> local(params.size() * sizeof(uint64_t));
  for (size_t i = 0; i < params.size(); ++i) {
    const uint64_t sum = tensor_checksum(params[i]);
    std::memcpy(local.data() + i * sizeof(uint64_t), &sum, sizeof(sum));
  }
  const auto all = impl_->comm.all_gather(local);
  std::vector<int> ranks;
  std::vector<std::string> differing;
  for (size_t r = 1; r < all.size(); ++r) {
    if (all[r] == all[0]) continue;
    ranks.push_back(static_cast<int>(r));
    for (size_t i = 0; i < params.size() && differing.size() < 3; ++i)
      if (std::memcmp(all[r].data() + i * 8, all[0].data() + i * 8, 8) != 0)
        differing.push_back(fmt::format("'{}' on rank {}", impl_->names[i], r));
  }
  if (!ranks.empty())
    fail("parameters diverged across ranks at step {}: rank(s) {} differ from rank 0 (first: {})",
         step, fmt::join(ranks, ", "), fmt::join(differing, ", "));
}

void broadcast_tensors(Communicator& comm, const std::vector<at::Tensor>& tensors, int root) {
  torch::NoGradGuard no_grad;
  std::map<torch::ScalarType, std::vector<torch::Tensor>> by_type;  // ordered: same on all ranks
  for (const auto& t : tensors) by_type[t.scalar_type()].push_back(t);
  for (auto& [type, group] : by_type) {
    std::vector<torch::Tensor> flat_parts;
    for (const auto& t : group) flat_parts.push_back(t.reshape({-1}));
    auto flat = torch::cat(flat_parts).contiguous();
    GST_CHECK(flat.is_cuda() == comm.device_buffers(),
              "broadcast_tensors: {} tensors with the {} communicator", flat.device().str(),
              comm.backend());
    comm.broadcast(flat.data_ptr(), flat.nbytes(), root);
    int64_t offset = 0;
    for (auto& t : group) {
      t.copy_(flat.narrow(0, offset, t.numel()).view(t.sizes()));
      offset += t.numel();
    }
  }
}

uint64_t tensor_checksum(const at::Tensor& tensor) {
  const auto bytes = tensor.detach().cpu().contiguous();
  const auto* p = static_cast<const uint8_t*>(bytes.data_ptr());
  uint64_t hash = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < bytes.nbytes(); ++i) hash = (hash ^ p[i]) * 0x100000001b3ull;
  return hash;
}

}  // namespace gst
