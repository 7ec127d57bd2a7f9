#include "model/activation.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "common/errors.h"

namespace gst {
namespace {

// The separate ops the fused inference pass replaces (cost_model.cpp's autograd path).
torch::Tensor reference(const torch::Tensor& z, const RowsPost& post) {
  torch::Tensor x = post.norm_weight.defined() ? torch::layer_norm(z, {z.size(2)}, post.norm_weight,
                                                                   post.norm_bias, post.eps)
                                               : z;
  torch::Tensor y = torch::prelu(x.reshape({-1, x.size(2)}), post.slope).view(x.sizes()) -
                    post.shared.index_select(0, post.rows).unsqueeze(1);
  if (post.residual.defined()) y.index_add_(0, post.residual_pos, post.residual);
  return y;
}

// Value and gradients of prelu_channels against LibTorch's prelu, over several blocks of rows.
TEST(PreluChannels, EqualsTorchPrelu) {
  torch::manual_seed(5);
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    for (int64_t c : {13, 128}) {
      torch::Tensor x = torch::randn({700, c}, dtype).requires_grad_();
      torch::Tensor w = torch::rand({c}, dtype).requires_grad_();
      torch::Tensor probe = torch::randn({700, c}, dtype);
      torch::Tensor y = prelu_channels(x, w);
      const auto grads = torch::autograd::grad({(y * probe).sum()}, {x, w});
      torch::Tensor y_ref = torch::prelu(x, w);
      const auto grads_ref = torch::autograd::grad({(y_ref * probe).sum()}, {x, w});
      const double tol = dtype == torch::kFloat ? 1e-5 : 1e-12;
      EXPECT_TRUE(torch::equal(y, y_ref)) << "width " << c;
      EXPECT_TRUE(torch::allclose(grads[0], grads_ref[0], 0, tol)) << "width " << c;
      EXPECT_TRUE(torch::allclose(grads[1], grads_ref[1], tol, tol)) << "width " << c;
    }
  }
}

// The post applied to z [R, K, C] through the aggregation it is fused onto (an identity gather).
LayerRowsPost post_of(const torch::Tensor& z, const RowsPost& post, bool low_copy) {
  const int64_t rows = z.size(0);
  std::vector<int64_t> ids(rows);
  std::iota(ids.begin(), ids.end(), 0);
  const SparseRows identity = SparseRows::gather(rows, ids);
  LayerRowsPost pass(post, z.size(1), low_copy);
  aggregate_into({{&identity, z}}, pass);
  return pass;
}

TEST(LayerRowsPost, EqualsTheSeparateOps) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(7);
  for (int64_t c : {13, 128}) {
    for (bool norm : {false, true}) {
      for (bool residual : {false, true}) {
        const int64_t rows = 37, k = 5, n = 50;
        torch::Tensor z = torch::randn({rows, k, c}) * 3 + 1;
        RowsPost post;
        if (norm) {
          post.norm_weight = torch::randn({c});
          post.norm_bias = torch::randn({c});
          post.eps = 1e-5;
        }
        post.slope = torch::rand({c});
        post.shared = torch::randn({n, c});
        post.rows = torch::randint(n, {rows}, torch::kLong);
        if (residual) {
          post.residual_pos = torch::randperm(rows, torch::kLong).narrow(0, 0, 20);
          post.residual = torch::randn({20, k, c});
        }
        const torch::Tensor expected = reference(z, post);
        const LayerRowsPost pass = post_of(z, post, true);
        EXPECT_LT((pass.out() - expected).abs().max().item<double>(), 2e-5)
            << "width " << c << " norm " << norm << " residual " << residual;
        // The bf16 copy is the float result rounded as LibTorch rounds it.
        EXPECT_TRUE(torch::equal(pass.low(), pass.out().to(torch::kBFloat16)));
        EXPECT_FALSE(post_of(z, post, false).low().defined());
      }
    }
  }
}

TEST(LayerRowsPost, RefusesAutogradAndRowsOutOfRange) {
  RowsPost post;
  post.slope = torch::rand({4});
  post.shared = torch::randn({3, 4});
  post.rows = torch::tensor({0, 3}, torch::kLong);
  EXPECT_THROW(LayerRowsPost(post, 2, false), Error);  // autograd on
  torch::NoGradGuard no_grad;
  EXPECT_THROW(LayerRowsPost(post, 2, false), Error);  // row 3 of 3
  post.rows = torch::tensor({0, 2}, torch::kLong);
  post.residual = torch::randn({2, 2, 4});
  post.residual_pos = torch::tensor({1, 1}, torch::kLong);
  EXPECT_THROW(LayerRowsPost(post, 2, false), Error);  // a position twice
}

}  // namespace
}  // namespace gst
