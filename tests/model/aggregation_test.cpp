#include "model/aggregation.h"

#include <gtest/gtest.h>

#include <random>

#include "common/errors.h"

namespace gst {
namespace {

// A random sparse matrix [rows, cols] with about `per_row` entries a row (some rows empty, some
// pairs repeated) and weights in (0, 1].
SparseRows random_matrix(std::mt19937_64& rng, int64_t rows, int64_t cols, int per_row) {
  std::uniform_int_distribution<int64_t> row(0, rows - 1), col(0, cols - 1);
  std::uniform_real_distribution<double> weight(0.05, 1.0);
  std::vector<int64_t> to, from;
  std::vector<double> w;
  for (int64_t i = 0; i < rows * per_row; ++i) {
    to.push_back(row(rng));
    from.push_back(col(rng));
    w.push_back(weight(rng));
  }
  return SparseRows(rows, cols, to, from, w);
}

double rel_l2(const torch::Tensor& a, const torch::Tensor& b) {
  torch::Tensor x = a.to(torch::kFloat64), y = b.to(torch::kFloat64);
  return (x - y).norm().item<double>() / std::max(y.norm().item<double>(), 1e-300);
}

struct Case {
  std::vector<SparseRows> matrices;
  std::vector<torch::Tensor> xs;  // leaves requiring grad
  torch::Tensor upstream;         // a fixed random gradient of the output
};

// Three terms into [rows, 3, 8]: two per-config terms [cols_t, 3, 8] and one shared [cols, 8]
// broadcast over the 3 configs.
Case make_case(torch::ScalarType dtype, uint64_t seed) {
  std::mt19937_64 rng(seed);
  torch::manual_seed(seed);
  Case c;
  const int64_t rows = 37;
  c.matrices.push_back(random_matrix(rng, rows, 29, 3));
  c.matrices.push_back(random_matrix(rng, rows, 41, 2));
  c.matrices.push_back(random_matrix(rng, rows, 50, 1));
  c.xs.push_back(torch::randn({29, 3, 8}, torch::kFloat64).to(dtype).requires_grad_());
  c.xs.push_back(torch::randn({41, 3, 8}, torch::kFloat64).to(dtype).requires_grad_());
  c.xs.push_back(torch::randn({50, 8}, torch::kFloat64).to(dtype).requires_grad_());
  c.upstream = torch::randn({rows, 3, 8}, torch::kFloat64);
  return c;
}

struct Outcome {
  torch::Tensor y;
  std::vector<torch::Tensor> grads;
};

Outcome run(const Case& c, bool reference, torch::ScalarType out) {
  for (const torch::Tensor& x : c.xs) x.mutable_grad() = torch::Tensor();
  std::vector<AggregationTerm> terms;
  for (size_t t = 0; t < c.xs.size(); ++t) terms.push_back({&c.matrices[t], c.xs[t]});
  torch::Tensor y = reference ? aggregate_reference(terms, out) : aggregate(terms, out);
  (y.to(torch::kFloat64) * c.upstream).sum().backward();
  Outcome o{y.detach(), {}};
  for (const torch::Tensor& x : c.xs) o.grads.push_back(x.grad().clone());
  return o;
}

// The reference in double on the same (rounded) inputs: the exact sum up to double rounding.
Outcome exact(const Case& c) {
  Case d = c;
  d.xs.clear();
  for (const torch::Tensor& x : c.xs)
    d.xs.push_back(x.detach().to(torch::kFloat64).requires_grad_());
  return run(d, true, torch::kFloat64);
}

TEST(Aggregation, DoubleEqualsIndexAddPath) {
  const Case c = make_case(torch::kFloat64, 1);
  const Outcome fused = run(c, false, torch::kFloat64);
  const Outcome ref = run(c, true, torch::kFloat64);
  EXPECT_EQ(fused.y.sizes(), (std::vector<int64_t>{37, 3, 8}));
  EXPECT_LT(rel_l2(fused.y, ref.y), 1e-14);
  for (size_t t = 0; t < c.xs.size(); ++t) {
    EXPECT_EQ(fused.grads[t].sizes(), c.xs[t].sizes());
    EXPECT_LT(rel_l2(fused.grads[t], ref.grads[t]), 1e-14) << "term " << t;
  }
}

TEST(Aggregation, FloatMatchesExactTo1e5) {
  const Case c = make_case(torch::kFloat32, 2);
  const Outcome fused = run(c, false, torch::kFloat32);
  const Outcome ref = exact(c);
  EXPECT_EQ(fused.y.scalar_type(), torch::kFloat32);
  EXPECT_LT(rel_l2(fused.y, ref.y), 1e-5);
  for (size_t t = 0; t < c.xs.size(); ++t) {
    EXPECT_EQ(fused.grads[t].scalar_type(), torch::kFloat32);
    EXPECT_LT(rel_l2(fused.grads[t], ref.grads[t]), 1e-5) << "term " << t;
  }
}

// bf16 inputs are summed in float: an fp32 output is exact to float rounding; a bf16 output and
// the bf16 gradients carry one bf16 rounding (2^-9 relative per value, ~3e-3 in L2).
TEST(Aggregation, Bf16InputsSumInFloat) {
  const Case c = make_case(torch::kBFloat16, 3);
  const Outcome ref = exact(c);
  const Outcome to_float = run(c, false, torch::kFloat32);
  EXPECT_LT(rel_l2(to_float.y, ref.y), 1e-6);
  for (size_t t = 0; t < c.xs.size(); ++t) {
    EXPECT_EQ(to_float.grads[t].scalar_type(), torch::kBFloat16);
    EXPECT_LT(rel_l2(to_float.grads[t], ref.grads[t]), 4e-3) << "term " << t;
  }
  const Outcome to_bf16 = run(c, false, torch::kBFloat16);
  EXPECT_EQ(to_bf16.y.scalar_type(), torch::kBFloat16);
  EXPECT_LT(rel_l2(to_bf16.y, ref.y), 4e-3);
  // The index_add_ path rounds every partial sum to bf16: no better than the fused one.
  const Outcome index_add = run(c, true, torch::kBFloat16);
  EXPECT_LE(rel_l2(to_bf16.y, ref.y), rel_l2(index_add.y, ref.y) + 1e-3);
}

TEST(Aggregation, SameBitsForAnyThreadCount) {
  const Case c = make_case(torch::kFloat32, 4);
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  const Outcome one = run(c, false, torch::kFloat32);
  torch::set_num_threads(2);
  const Outcome two = run(c, false, torch::kFloat32);
  torch::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(one.y, two.y));
  for (size_t t = 0; t < c.xs.size(); ++t) EXPECT_TRUE(torch::equal(one.grads[t], two.grads[t]));
}

TEST(Aggregation, GatherAndEmptyRows) {
  const SparseRows g = SparseRows::gather(5, {4, 0, 4});
  torch::Tensor x = torch::arange(10, torch::kFloat32).view({5, 2});
  torch::Tensor y = aggregate({{&g, x}}, torch::kFloat32);
  EXPECT_TRUE(torch::equal(y, torch::tensor({8.f, 9.f, 0.f, 1.f, 8.f, 9.f}).view({3, 2})));
  const SparseRows empty(3, 5, {}, {}, {});
  EXPECT_TRUE(torch::equal(aggregate({{&empty, x}}, torch::kFloat32), torch::zeros({3, 2})));
}

TEST(Aggregation, BadShapesAreErrors) {
  const SparseRows g = SparseRows::gather(5, {1, 2});
  EXPECT_THROW(aggregate({{&g, torch::zeros({4, 2})}}, torch::kFloat32), Error);
  EXPECT_THROW(aggregate({{&g, torch::zeros({5, 4})}, {&g, torch::zeros({5, 3})}}, torch::kFloat32),
               Error);
  EXPECT_THROW(aggregate({{&g, torch::zeros({5, 2}, torch::kInt64)}}, torch::kFloat32), Error);
  EXPECT_THROW(SparseRows(2, 2, {0}, {2}, {1.0}), Error);
}

}  // namespace
}  // namespace gst
