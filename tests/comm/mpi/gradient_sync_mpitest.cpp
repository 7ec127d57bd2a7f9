// GradientSync on every world size: fused buckets sum like a single-process reference over all
// ranks' batches, per-graph backward passes summed in float64 give the one-process gradients
// bitwise whichever rank ran them, overlap on equals off bitwise, broadcast and the divergence
// check work.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "comm/gradient_sync.h"
#include "comm/mpi_communicator.h"
#include "common/errors.h"
#include "test_support.h"

namespace gst {
namespace {

using testing::world;

const std::vector<std::string> kNames = {"W1", "b1", "W2",     "b2",
                                         "W3", "b3", "unused", "rank0_only"};

// A small MLP's parameters plus one never used and one used only by rank 0's loss.
std::vector<torch::Tensor> make_params(uint64_t seed) {
  torch::manual_seed(seed);
  std::vector<std::vector<int64_t>> shapes = {{64, 32}, {64}, {64, 64}, {64},
                                              {1, 64},  {1},  {10},     {8}};
  std::vector<torch::Tensor> params;
  for (const auto& shape : shapes) params.push_back(torch::randn(shape).requires_grad_(true));
  return params;
}

torch::Tensor loss_of(const std::vector<torch::Tensor>& p, int rank, int step) {
  torch::manual_seed(1000 + 17 * rank + step);
  auto x = torch::randn({16, 32});
  auto y = torch::randn({16, 1});
  auto h = torch::relu(torch::nn::functional::linear(x, p[0], p[1]));
  h = torch::tanh(torch::nn::functional::linear(h, p[2], p[3]));
  auto loss = torch::mse_loss(torch::nn::functional::linear(h, p[4], p[5]), y);
  if (rank == 0) loss = loss + 0.1 * (p[7] * p[7]).sum();
  return loss;
}

void zero_grads(std::vector<torch::Tensor>& params, bool set_to_none) {
  for (auto& p : params) {
    if (set_to_none)
      p.mutable_grad() = torch::Tensor();
    else if (p.grad().defined())
      p.mutable_grad().zero_();
  }
}

// The gradients of the sum of all ranks' losses, computed in this one process.
std::vector<torch::Tensor> reference_grads(int ranks, int step) {
  auto params = make_params(7);
  torch::Tensor total;
  for (int r = 0; r < ranks; ++r) {
    auto loss = loss_of(params, r, step);
    total = total.defined() ? total + loss : loss;
  }
  total.backward();
  std::vector<torch::Tensor> grads;
  for (auto& p : params) grads.push_back(p.grad());
  return grads;
}

std::vector<torch::Tensor> synced_grads(size_t bucket_bytes, bool overlap, int step,
                                        size_t* buckets = nullptr) {
  auto& comm = world();
  auto params = make_params(7);
  GradientSync sync(comm, params, {bucket_bytes, overlap}, kNames);
  if (buckets) *buckets = sync.num_buckets();
  std::vector<torch::Tensor> grads;
  for (int s = 0; s <= step; ++s) {  // earlier steps check that state resets between steps
    zero_grads(params, s % 2 == 0);
    loss_of(params, comm.rank(), s).backward();
    sync.finish();
  }
  for (auto& p : params) grads.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
  return grads;
}

TEST(GradientSync, FusedBucketsMatchTheReferenceSum) {
  const int n = world().size();
  // Reverse-order greedy fill of byte sizes 32, 40, 4, 256, 256, 16384, 256, 8192.
  const std::vector<std::pair<size_t, size_t>> bucket_cases = {
      {1, 8}, {4096, 4}, {20000, 2}, {65536, 1}, {size_t{25} << 20, 1}};
  for (bool overlap : {false, true}) {
    for (auto [bucket_bytes, expected_buckets] : bucket_cases) {
      SCOPED_TRACE("bucket_bytes " + std::to_string(bucket_bytes) + " overlap " +
                   std::to_string(overlap));
      size_t buckets = 0;
      auto got = synced_grads(bucket_bytes, overlap, 2, &buckets);
      EXPECT_EQ(buckets, expected_buckets);
      auto want = reference_grads(n, 2);
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i].defined(), want[i].defined()) << kNames[i];
        if (!want[i].defined()) continue;
        // Float sums in another order: compare against the gradient's scale.
        const float diff = (got[i] - want[i]).abs().max().item<float>();
        const float scale = want[i].abs().max().item<float>();
        EXPECT_LE(diff, 1e-5f * scale + 1e-8f) << kNames[i] << " scale " << scale;
      }
      EXPECT_FALSE(got[6].defined()) << "a parameter unused on every rank keeps no gradient";
    }
  }
}

// kPieces losses ("graphs") of one step, piece p on rank p mod size, one backward per piece: the
// result is the one-process float64 sum of the pieces' float32 gradients rounded to float32,
// bitwise, on every world size and with overlap on and off.
constexpr int kPieces = 8;

std::vector<torch::Tensor> per_piece_grads(size_t bucket_bytes, bool overlap, int step) {
  auto& comm = world();
  auto params = make_params(7);
  GradientSync sync(comm, params, {bucket_bytes, overlap}, kNames);
  std::vector<int> mine;
  for (int p = comm.rank(); p < kPieces; p += comm.size()) mine.push_back(p);
  for (int s = 0; s <= step; ++s) {
    zero_grads(params, s % 2 == 0);
    for (size_t i = 0; i < mine.size(); ++i)
      sync.backward(loss_of(params, mine[i], s) * (1.0 / kPieces), i + 1 == mine.size());
    sync.finish();
  }
  std::vector<torch::Tensor> grads;
  for (auto& p : params) grads.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
  return grads;
}

std::vector<torch::Tensor> per_piece_reference(int step) {
  auto params = make_params(7);
  std::vector<torch::Tensor> sums(params.size());
  for (int p = 0; p < kPieces; ++p) {
    zero_grads(params, true);
    (loss_of(params, p, step) * (1.0 / kPieces)).backward();
    for (size_t i = 0; i < params.size(); ++i) {
      if (!params[i].grad().defined()) continue;
      const auto g = params[i].grad().to(torch::kFloat64);
      sums[i] = sums[i].defined() ? sums[i] + g : g;
    }
  }
  for (auto& s : sums)
    if (s.defined()) s = s.to(torch::kFloat32);
  return sums;
}

TEST(GradientSync, PerGraphFloat64SumsMatchOneProcessBitwise) {
  const auto want = per_piece_reference(2);
  for (bool overlap : {false, true}) {
    for (size_t bucket_bytes : {size_t{1}, size_t{4096}, size_t{25} << 20}) {
      SCOPED_TRACE("bucket_bytes " + std::to_string(bucket_bytes) + " overlap " +
                   std::to_string(overlap));
      const auto got = per_piece_grads(bucket_bytes, overlap, 2);
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i].defined(), want[i].defined()) << kNames[i];
        if (want[i].defined()) EXPECT_TRUE(torch::equal(got[i], want[i])) << kNames[i];
      }
      EXPECT_FALSE(got[6].defined()) << "a parameter unused on every rank keeps no gradient";
    }
  }
}

// With overlap, a second plain backward before finish() is an error that says what to do.
TEST(GradientSync, OverlapRejectsTwoLastBackwardPasses) {
  auto params = make_params(7);
  std::vector<torch::Tensor> used(params.begin(), params.begin() + 6);
  GradientSync sync(world(), used, {size_t{25} << 20, true});
  sync.backward(loss_of(used, 1, 0), /*last=*/false);
  loss_of(used, 1, 1).backward();
  try {
    loss_of(used, 1, 2).backward();
    ADD_FAILURE() << "a second last backward was accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("backward(loss, /*last=*/false)"), std::string::npos)
        << e.what();
  }
}

TEST(GradientSync, OverlapOnEqualsOffBitwise) {
  for (size_t bucket_bytes : {size_t{1}, size_t{4096}, size_t{25} << 20}) {
    auto off = synced_grads(bucket_bytes, false, 3);
    auto on = synced_grads(bucket_bytes, true, 3);
    for (size_t i = 0; i < off.size(); ++i) {
      ASSERT_EQ(off[i].defined(), on[i].defined()) << kNames[i];
      if (off[i].defined()) EXPECT_TRUE(torch::equal(off[i], on[i])) << kNames[i];
    }
  }
}

TEST(GradientSync, BucketsHoldEveryParameterOnce) {
  auto params = make_params(7);
  GradientSync sync(world(), params, {4096, false}, kNames);
  auto counts = sync.bucket_param_counts();
  EXPECT_EQ(counts, (std::vector<size_t>{5, 1, 1, 1}));
}

TEST(GradientSync, OverlapLaunchesBucketsDuringBackward) {
  auto& comm = world();
  for (bool overlap : {false, true}) {
    auto all = make_params(7);
    std::vector<torch::Tensor> used(all.begin(), all.begin() + 6);  // the MLP: used on every rank
    GradientSync sync(comm, used, {1, overlap});
    loss_of(used, /*rank=*/1, 0).backward();
    sync.finish();
    EXPECT_EQ(sync.num_buckets(), 6u);
    EXPECT_EQ(sync.last_early_launches(), overlap ? 6u : 0u) << "overlap " << overlap;
  }
}

TEST(GradientSync, BroadcastCopiesTheRootsParameters) {
  auto& comm = world();
  const int root = comm.size() - 1;
  auto params = make_params(100 + comm.rank());
  std::vector<torch::Tensor> extra = {torch::full({3}, comm.rank(), torch::kInt64)};
  GradientSync sync(comm, params, {}, kNames);
  sync.broadcast_parameters(root);
  broadcast_tensors(comm, extra, root);
  auto want = make_params(100 + root);
  for (size_t i = 0; i < params.size(); ++i)
    EXPECT_TRUE(torch::equal(params[i], want[i])) << kNames[i];
  EXPECT_TRUE(torch::equal(extra[0], torch::full({3}, root, torch::kInt64)));
}

TEST(GradientSync, ConsistencyCheckNamesStepRankAndParameter) {
  auto& comm = world();
  auto params = make_params(7);
  GradientSync sync(comm, params, {}, kNames);
  EXPECT_NO_THROW(sync.check_parameters_consistent(5));
  const int last = comm.size() - 1;
  if (comm.rank() == last && last > 0) {
    torch::NoGradGuard no_grad;
    params[2][3][4] += 1e-6f;
  }
  if (last == 0) return;
  try {
    sync.check_parameters_consistent(6);
    ADD_FAILURE() << "a perturbed parameter on rank " << last << " was not detected";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("at step 6"), std::string::npos) << message;
    EXPECT_NE(message.find("rank(s) " + std::to_string(last) + " differ"), std::string::npos)
        << message;
    EXPECT_NE(message.find("'W2' on rank " + std::to_string(last)), std::string::npos) << message;
  }
}

TEST(GradientSync, RejectsFrozenOrNonFloatParameters) {
  auto frozen = torch::zeros({3});
  EXPECT_THROW(GradientSync(world(), {frozen}), Error);
  auto doubles = torch::zeros({3}, torch::kFloat64).requires_grad_(true);
  EXPECT_THROW(GradientSync(world(), {doubles}), Error);
}

}  // namespace
}  // namespace gst
