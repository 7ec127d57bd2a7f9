#include "model/activation.h"

#include <ATen/Parallel.h>

#include <vector>

#include "common/errors.h"

namespace gst {

namespace {

constexpr int64_t kBlockRows = 256;  // rows per partial sum of the slope gradient

template <typename T>
void forward_kernel(const T* x, const T* w, T* y, int64_t rows, int64_t c) {
  at::parallel_for(0, rows, kBlockRows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* xr = x + r * c;
      T* yr = y + r * c;
      for (int64_t i = 0; i < c; ++i) yr[i] = xr[i] > 0 ? xr[i] : w[i] * xr[i];
    }
  });
}

// gx = g * (x > 0 ? 1 : w); gw[i] = sum over rows of (x > 0 ? 0 : g x), per block of rows, then
// over blocks in order.
template <typename T>
void backward_kernel(const T* x, const T* w, const T* g, T* gx, T* gw, int64_t rows, int64_t c) {
  const int64_t blocks = (rows + kBlockRows - 1) / kBlockRows;
  std::vector<T> partial(blocks * c, T(0));
  at::parallel_for(0, blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      T* p = partial.data() + b * c;
      for (int64_t r = b * kBlockRows; r < std::min(rows, (b + 1) * kBlockRows); ++r) {
        const T *xr = x + r * c, *gr = g + r * c;
        T* gxr = gx + r * c;
        for (int64_t i = 0; i < c; ++i) {
          const bool pos = xr[i] > 0;
          gxr[i] = pos ? gr[i] : w[i] * gr[i];
          p[i] += pos ? T(0) : gr[i] * xr[i];
        }
      }
    }
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

}  // namespace

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
