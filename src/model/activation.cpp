#include "model/activation.h"

#include <ATen/Parallel.h>
#include <ATen/record_function.h>

#include <cmath>
#include <vector>

#include "common/errors.h"
#include "model/bf16_bits.h"
#include "model/vector_clones.h"

namespace gst {

namespace {

constexpr int64_t kBlockRows = 256;  // rows per partial sum of the slope gradient

// The row loops are GST_VECTOR_CLONES; restrict: no array overlaps another, so they vectorize
// without run-time overlap checks.

template <typename T>
GST_VECTOR_CLONES void forward_rows(const T* __restrict x, const T* __restrict w, T* __restrict y,
                                    int64_t begin, int64_t end, int64_t c) {
  for (int64_t r = begin; r < end; ++r)
    for (int64_t i = 0; i < c; ++i) {
      const T v = x[r * c + i];
      y[r * c + i] = v > 0 ? v : w[i] * v;
    }
}

template <typename T>
void forward_kernel(const T* x, const T* w, T* y, int64_t rows, int64_t c) {
  at::parallel_for(0, rows, kBlockRows,
                   [&](int64_t begin, int64_t end) { forward_rows(x, w, y, begin, end, c); });
}

// Rows [begin, end) of the backward pass; p: this block's slope-gradient partial sums.
template <typename T>
GST_VECTOR_CLONES void backward_rows(const T* __restrict x, const T* __restrict w,
                                     const T* __restrict g, T* __restrict gx, T* __restrict p,
                                     int64_t begin, int64_t end, int64_t c) {
  for (int64_t r = begin; r < end; ++r)
    for (int64_t i = 0; i < c; ++i) {
      const T xv = x[r * c + i], gv = g[r * c + i];
      const bool pos = xv > 0;
      gx[r * c + i] = pos ? gv : w[i] * gv;
      p[i] += pos ? T(0) : gv * xv;
    }
}

// gx = g * (x > 0 ? 1 : w); gw[i] = sum over rows of (x > 0 ? 0 : g x), per block of rows, then
// over blocks in order.
template <typename T>
void backward_kernel(const T* x, const T* w, const T* g, T* gx, T* gw, int64_t rows, int64_t c) {
  const int64_t blocks = (rows + kBlockRows - 1) / kBlockRows;
  std::vector<T> partial(blocks * c, T(0));
  at::parallel_for(0, blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b)
      backward_rows(x, w, g, gx, partial.data() + b * c, b * kBlockRows,
                    std::min(rows, (b + 1) * kBlockRows), c);
  });
  for (int64_t i = 0; i < c; ++i) gw[i] = 0;
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t i = 0; i < c; ++i) gw[i] += partial[b * c + i];
}

class PreluFunction : public torch::autograd::Function<PreluFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight) {
    torch::Tensor xc = x.contiguous(), wc = weight.contiguous();
    torch::Tensor y = torch::empty_like(xc);
    const int64_t c = wc.numel(), rows = c > 0 ? xc.numel() / c : 0;
    RECORD_FUNCTION("gst::prelu_channels", std::vector<c10::IValue>());  // for profilers
    AT_DISPATCH_FLOATING_TYPES(xc.scalar_type(), "prelu_channels", [&] {
      forward_kernel(xc.data_ptr<scalar_t>(), wc.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), rows,
                     c);
    });
    ctx->save_for_backward({xc, wc});
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &w = saved[1];
    torch::Tensor g = grads.at(0).contiguous();
    torch::Tensor gx = torch::empty_like(x), gw = torch::empty_like(w);
    const int64_t c = w.numel(), rows = c > 0 ? x.numel() / c : 0;
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "prelu_channels_backward", [&] {
      backward_kernel(x.data_ptr<scalar_t>(), w.data_ptr<scalar_t>(), g.data_ptr<scalar_t>(),
                      gx.data_ptr<scalar_t>(), gw.data_ptr<scalar_t>(), rows, c);
    });
    return {gx, gw};
  }
};

// The sum of term(i) over a row's c entries in 8 running partial sums: a single running sum would
// serialize on the add latency and keep the loop from vectorizing (float addition is not
// reassociated without -ffast-math).
template <typename Term>
GST_INLINE float row_sum(int64_t c, Term term) {
  float acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= c; i += 8)
    for (int u = 0; u < 8; ++u) acc[u] += term(i + u);
  float sum = 0;
  for (; i < c; ++i) sum += term(i);
  for (float a : acc) sum += a;
  return sum;
}

// One row: y <- prelu(norm(z)) - base (+ add), after the norm's moments in one loop; low, where
// set, gets y rounded to bfloat16.
template <bool Norm, bool Add>
GST_INLINE void post_row(const LayerRowsPost::Arrays& a, const float* __restrict z,
                         float* __restrict y, uint16_t* __restrict low,
                         const float* __restrict base, const float* __restrict add) {
  // No array overlaps another (restrict): the loops vectorize without run-time overlap checks.
  const float* __restrict gamma = a.gamma, * __restrict beta = a.beta, * __restrict slope = a.slope;
  const int64_t c = a.c;
  float mean = 0, rstd = 1;
  if (Norm) {
    mean = row_sum(c, [&](int64_t i) { return z[i]; }) / c;
    const float var = row_sum(c, [&](int64_t i) { return (z[i] - mean) * (z[i] - mean); }) / c;
    rstd = 1.0f / std::sqrt(var + a.eps);
  }
  for (int64_t i = 0; i < c; ++i) {
    const float t = Norm ? (z[i] - mean) * rstd * gamma[i] + beta[i] : z[i];
    y[i] = (t > 0 ? t : slope[i] * t) - base[i] + (Add ? add[i] : 0.0f);
  }
  if (low != nullptr)
    for (int64_t i = 0; i < c; ++i) low[i] = float_to_bf16(y[i]);
}

template <bool Norm>
GST_INLINE void post_configs_as(const LayerRowsPost::Arrays& a, int64_t r, const float* z) {
  const float* base = a.base + a.row_of[r] * a.c;
  for (int64_t k = 0; k < a.k; ++k) {
    const int64_t at = (r * a.k + k) * a.c;
    uint16_t* low = a.low != nullptr ? a.low + at : nullptr;
    if (a.source[r] < 0) {
      post_row<Norm, false>(a, z + k * a.c, a.y + at, low, base, nullptr);
    } else {
      post_row<Norm, true>(a, z + k * a.c, a.y + at, low, base,
                           a.add + (a.source[r] * a.k + k) * a.c);
    }
  }
}

// Row r's K configs from their pre-activations z [K, C].
GST_VECTOR_CLONES void post_configs(const LayerRowsPost::Arrays& a, int64_t r, const float* z) {
  if (a.gamma != nullptr) {
    post_configs_as<true>(a, r, z);
  } else {
    post_configs_as<false>(a, r, z);
  }
}

bool overlaps(const torch::Tensor& a, const torch::Tensor& b) {
  const auto* a0 = static_cast<const char*>(a.data_ptr());
  const auto* b0 = static_cast<const char*>(b.data_ptr());
  return a0 < b0 + b.nbytes() && b0 < a0 + a.nbytes();
}

// t as a contiguous float tensor of n values (t may be undefined).
torch::Tensor floats(const torch::Tensor& t, int64_t n) {
  if (!t.defined()) return t;
  GST_CHECK(t.numel() == n && t.scalar_type() == torch::kFloat && t.device().is_cpu(),
            "layer post: {} float CPU values expected, got {}", n, t.numel());
  return t.contiguous();
}

}  // namespace

LayerRowsPost::LayerRowsPost(const RowsPost& post, int64_t k, bool low_copy) {
  GST_CHECK(!torch::GradMode::is_enabled(), "the fused layer post is for inference (no autograd)");
  GST_CHECK(post.slope.defined() && post.shared.defined() && post.rows.defined(),
            "layer post: slope, shared and rows are required");
  const int64_t rows = post.rows.numel(), c = post.slope.numel();
  gamma_ = floats(post.norm_weight, c);
  beta_ = floats(post.norm_bias, c);
  GST_CHECK(gamma_.defined() == beta_.defined(), "layer post: norm weight without bias");
  slope_ = floats(post.slope, c);
  shared_ = post.shared.contiguous();
  row_of_ = post.rows.to(torch::kLong).contiguous();
  GST_CHECK(shared_.dim() == 2 && shared_.size(1) == c && shared_.scalar_type() == torch::kFloat &&
                shared_.device().is_cpu(),
            "layer post: float shared rows [N, {}] expected", c);
  const int64_t* row_of = row_of_.data_ptr<int64_t>();
  for (int64_t r = 0; r < rows; ++r)
    GST_CHECK(row_of[r] >= 0 && row_of[r] < shared_.size(0), "layer post: row {} of {}", row_of[r],
              shared_.size(0));
  source_.assign(rows, -1);
  if (post.residual.defined()) {
    residual_ = floats(post.residual, post.residual.numel());
    const torch::Tensor pos = post.residual_pos.to(torch::kLong).contiguous();
    GST_CHECK(residual_.dim() == 3 && residual_.size(0) == pos.numel() && residual_.size(1) == k &&
                  residual_.size(2) == c,
              "layer post: residual [{}, {}, {}] expected", pos.numel(), k, c);
    for (int64_t i = 0; i < pos.numel(); ++i) {
      const int64_t r = pos.data_ptr<int64_t>()[i];
      GST_CHECK(r >= 0 && r < rows && source_[r] < 0, "layer post: residual position {}", r);
      source_[r] = i;
    }
  }
  out_ = torch::empty({rows, k, c}, torch::kFloat);
  if (low_copy) low_ = torch::empty({rows, k, c}, torch::kBFloat16);
  GST_CHECK(!overlaps(out_, shared_) && !(residual_.defined() && overlaps(out_, residual_)),
            "layer post: the output overlaps its shared or residual rows");
  arrays_ = {out_.data_ptr<float>(),
             low_copy ? reinterpret_cast<uint16_t*>(low_.data_ptr()) : nullptr,
             gamma_.defined() ? gamma_.data_ptr<float>() : nullptr,
             beta_.defined() ? beta_.data_ptr<float>() : nullptr,
             slope_.data_ptr<float>(),
             shared_.data_ptr<float>(),
             residual_.defined() ? residual_.data_ptr<float>() : nullptr,
             row_of,
             source_.data(),
             k,
             c,
             static_cast<float>(post.eps)};
}

void LayerRowsPost::finish(int64_t row, float* sums) const { post_configs(arrays_, row, sums); }

torch::Tensor prelu_channels(const torch::Tensor& x, const torch::Tensor& weight) {
  GST_CHECK(weight.dim() == 1 && x.dim() >= 1 && x.size(-1) == weight.size(0),
            "prelu: {} slopes for inputs of width {}", weight.numel(),
            x.dim() >= 1 ? x.size(-1) : 0);
  GST_CHECK(x.scalar_type() == weight.scalar_type(), "prelu: input and slope dtypes differ");
  if (!x.device().is_cpu() ||
      (x.scalar_type() != torch::kFloat && x.scalar_type() != torch::kDouble))
    return torch::prelu(x.reshape({-1, x.size(-1)}), weight).view(x.sizes());
  return PreluFunction::apply(x, weight);
}

}  // namespace gst
