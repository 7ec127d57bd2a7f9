#include "model/activation.h"

#include <ATen/Parallel.h>
#include <ATen/record_function.h>

#include <cmath>
#include <vector>

#include "common/errors.h"

namespace gst {

namespace {

constexpr int64_t kBlockRows = 256;  // rows per partial sum of the slope gradient

// The row loops are compiled once per vector width and picked at run time (the build targets
// baseline x86-64, 4 floats per vector); restrict: no array overlaps another, so they vectorize
// without run-time overlap checks.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GST_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define GST_VECTOR_CLONES
#endif

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

// The row helpers are inlined into each ISA clone of post_rows (a call would run baseline code).
#define GST_INLINE inline __attribute__((always_inline))

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

// The arrays of one post_minus_shared_ call; source[r] is the residual row added to row r or -1.
struct RowsKernel {
  float* y;
  const float *gamma, *beta, *slope, *base, *add;
  const int64_t *row_of, *source;
  int64_t k, c;
  float eps;
};

// One row y (in place) <- prelu(norm(y)) - base (+ add), after the norm's moments in one loop.
template <bool Norm, bool Add>
GST_INLINE void post_row(const RowsKernel& a, float* __restrict y, const float* __restrict base,
                         const float* __restrict add) {
  // No array overlaps y (restrict): the loop vectorizes without run-time overlap checks.
  const float* __restrict gamma = a.gamma, * __restrict beta = a.beta, * __restrict slope = a.slope;
  const int64_t c = a.c;
  float mean = 0, rstd = 1;
  if (Norm) {
    mean = row_sum(c, [&](int64_t i) { return y[i]; }) / c;
    const float var = row_sum(c, [&](int64_t i) { return (y[i] - mean) * (y[i] - mean); }) / c;
    rstd = 1.0f / std::sqrt(var + a.eps);
  }
  for (int64_t i = 0; i < c; ++i) {
    const float t = Norm ? (y[i] - mean) * rstd * gamma[i] + beta[i] : y[i];
    y[i] = (t > 0 ? t : slope[i] * t) - base[i] + (Add ? add[i] : 0.0f);
  }
}

template <bool Norm>
GST_INLINE void post_rows_as(const RowsKernel& a, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const int64_t r = i / a.k;
    float* y = a.y + i * a.c;
    const float* base = a.base + a.row_of[r] * a.c;
    if (a.source[r] < 0) {
      post_row<Norm, false>(a, y, base, nullptr);
    } else {
      post_row<Norm, true>(a, y, base, a.add + (a.source[r] * a.k + i % a.k) * a.c);
    }
  }
}

// Rows [begin, end) of the [R K] rows.
GST_VECTOR_CLONES void post_rows(const RowsKernel& a, int64_t begin, int64_t end) {
  if (a.gamma != nullptr) {
    post_rows_as<true>(a, begin, end);
  } else {
    post_rows_as<false>(a, begin, end);
  }
}

bool overlaps(const torch::Tensor& a, const torch::Tensor& b) {
  const auto* a0 = static_cast<const char*>(a.data_ptr());
  const auto* b0 = static_cast<const char*>(b.data_ptr());
  return a0 < b0 + b.nbytes() && b0 < a0 + a.nbytes();
}

}  // namespace

void post_minus_shared_(torch::Tensor& z, const RowsPost& post) {
  RECORD_FUNCTION("gst::post_minus_shared_", std::vector<c10::IValue>());  // for profilers
  GST_CHECK(!torch::GradMode::is_enabled(), "post_minus_shared_ is for inference (no autograd)");
  GST_CHECK(
      z.dim() == 3 && z.is_contiguous() && z.scalar_type() == torch::kFloat && z.device().is_cpu(),
      "post_minus_shared_: z must be a contiguous [R, K, C] float CPU tensor");
  const int64_t rows = z.size(0), k = z.size(1), c = z.size(2);
  auto floats = [&](const torch::Tensor& t, int64_t n) -> torch::Tensor {
    if (!t.defined()) return t;
    GST_CHECK(t.numel() == n && t.scalar_type() == torch::kFloat,
              "post_minus_shared_: {} floats expected, got {}", n, t.numel());
    return t.contiguous();
  };
  const torch::Tensor gamma = floats(post.norm_weight, c), beta = floats(post.norm_bias, c);
  GST_CHECK(gamma.defined() == beta.defined(), "post_minus_shared_: norm weight without bias");
  const torch::Tensor slope = floats(post.slope, c);
  GST_CHECK(slope.defined() && post.shared.defined() && post.rows.defined(),
            "post_minus_shared_: slope, shared and rows are required");
  const torch::Tensor shared = post.shared.contiguous();
  const torch::Tensor index = post.rows.to(torch::kLong).contiguous();
  GST_CHECK(shared.dim() == 2 && shared.size(1) == c && shared.scalar_type() == torch::kFloat &&
                index.numel() == rows,
            "post_minus_shared_: float shared [N, {}] and {} rows expected", c, rows);
  GST_CHECK(!overlaps(z, shared) && !(post.residual.defined() && overlaps(z, post.residual)),
            "post_minus_shared_: z overlaps its shared or residual rows");
  const int64_t* row_of = index.data_ptr<int64_t>();
  for (int64_t r = 0; r < rows; ++r)
    GST_CHECK(row_of[r] >= 0 && row_of[r] < shared.size(0), "post_minus_shared_: row {} of {}",
              row_of[r], shared.size(0));
  // source[r]: the residual row added to row r, or -1.
  std::vector<int64_t> source(rows, -1);
  torch::Tensor residual;
  if (post.residual.defined()) {
    residual = floats(post.residual, post.residual.numel());
    const torch::Tensor pos = post.residual_pos.to(torch::kLong).contiguous();
    GST_CHECK(residual.dim() == 3 && residual.size(0) == pos.numel() && residual.size(1) == k &&
                  residual.size(2) == c,
              "post_minus_shared_: residual [{}, {}, {}] expected", pos.numel(), k, c);
    for (int64_t i = 0; i < pos.numel(); ++i) {
      const int64_t r = pos.data_ptr<int64_t>()[i];
      GST_CHECK(r >= 0 && r < rows && source[r] < 0, "post_minus_shared_: residual position {}", r);
      source[r] = i;
    }
  }
  const RowsKernel kernel{z.data_ptr<float>(),
                          gamma.defined() ? gamma.data_ptr<float>() : nullptr,
                          beta.defined() ? beta.data_ptr<float>() : nullptr,
                          slope.data_ptr<float>(),
                          shared.data_ptr<float>(),
                          residual.defined() ? residual.data_ptr<float>() : nullptr,
                          row_of,
                          source.data(),
                          k,
                          c,
                          static_cast<float>(post.eps)};
  at::parallel_for(0, rows * k, kBlockRows,
                   [&](int64_t begin, int64_t end) { post_rows(kernel, begin, end); });
}

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
