#include "model/row_pooling.h"

#include <ATen/Parallel.h>
#include <ATen/record_function.h>

#include <algorithm>
#include <limits>

#include "common/errors.h"
#include "model/vector_clones.h"

namespace gst {

namespace {

// Row r of d into one run's sums [K, H]: restrict, no array overlaps another, so the loops
// vectorize without run-time overlap checks. The max keeps a NaN, as amax does.
GST_VECTOR_CLONES void pool_row(const float* __restrict d, const float* __restrict base, float w,
                                bool weighted, int64_t k, int64_t h, float* __restrict sum,
                                float* __restrict max, float* __restrict wsum) {
  for (int64_t c = 0; c < k; ++c) {
    const float* row = d + c * h;
    float *s = sum + c * h, *m = max + c * h;
    for (int64_t i = 0; i < h; ++i) {
      const float v = row[i], x = base[i] + v;
      s[i] += v;
      m[i] = (x > m[i] || x != x) ? x : m[i];
    }
    if (weighted) {
      float* ws = wsum + c * h;
      for (int64_t i = 0; i < h; ++i) ws[i] += w * row[i];
    }
  }
}

}  // namespace

RowPools pool_rows(const torch::Tensor& d, const torch::Tensor& base, const torch::Tensor& w,
                   const std::vector<int64_t>& offsets) {
  RECORD_FUNCTION("gst::pool_rows", std::vector<c10::IValue>());  // for profilers (benchmarks)
  GST_CHECK(!torch::GradMode::is_enabled(), "pool_rows is for inference (no autograd)");
  GST_CHECK(d.dim() == 3 && d.scalar_type() == torch::kFloat && d.device().is_cpu(),
            "pool_rows: d must be a [n, K, H] float CPU tensor");
  const int64_t n = d.size(0), k = d.size(1), h = d.size(2);
  GST_CHECK(base.dim() == 2 && base.size(0) == n && base.size(1) == h &&
                base.scalar_type() == torch::kFloat,
            "pool_rows: float base [{}, {}] expected", n, h);
  GST_CHECK(!w.defined() || (w.numel() == n && w.scalar_type() == torch::kFloat),
            "pool_rows: {} float weights expected", n);
  GST_CHECK(!offsets.empty() && offsets.front() == 0 && offsets.back() == n &&
                std::is_sorted(offsets.begin(), offsets.end()),
            "pool_rows: offsets must rise from 0 to {}", n);
  const auto runs = static_cast<int64_t>(offsets.size()) - 1;
  const torch::Tensor dc = d.contiguous(), bc = base.contiguous();
  const torch::Tensor wc = w.defined() ? w.contiguous() : w;
  RowPools out;
  out.sum = torch::zeros({runs, k, h}, d.options());
  out.max = torch::full({runs, k, h}, -std::numeric_limits<float>::infinity(), d.options());
  if (w.defined()) out.weighted = torch::zeros({runs, k, h}, d.options());
  const float* rows = dc.data_ptr<float>();
  const float* shared = bc.data_ptr<float>();
  const float* weights = w.defined() ? wc.data_ptr<float>() : nullptr;
  float* sum = out.sum.data_ptr<float>();
  float* max = out.max.data_ptr<float>();
  float* wsum = w.defined() ? out.weighted.data_ptr<float>() : nullptr;
  at::parallel_for(0, runs, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      for (int64_t r = offsets[b]; r < offsets[b + 1]; ++r) {
        pool_row(rows + r * k * h, shared + r * h, weights != nullptr ? weights[r] : 0.0f,
                 weights != nullptr, k, h, sum + b * k * h, max + b * k * h,
                 wsum != nullptr ? wsum + b * k * h : nullptr);
      }
    }
  });
  return out;
}

}  // namespace gst
