// PReLU with one slope per channel of the last dimension, as one pass forward and one backward;
// and a layer's whole post-processing of its per-config rows for inference, fused onto their
// aggregation.
// LibTorch 1.13's CPU prelu_backward reduces the slope gradient element by element: it took over a
// third of a training step (gst_step_bench). Values equal torch::prelu's; the slope gradient is
// summed over fixed blocks of rows in a fixed order, so it is the same for any thread count.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "model/aggregation.h"

namespace gst {

// x [..., C] (float or double), weight [C] -> [..., C].
torch::Tensor prelu_channels(const torch::Tensor& x, const torch::Tensor& weight);

// What a layer does to its per-config rows: LayerNorm over C (none when norm_weight is
// undefined) with norm_weight, norm_bias and eps, PReLU with slope [C], minus the shared rows
// shared [N, C] at rows [R], plus residual [R', K, C] at residual_pos [R'] (distinct; undefined
// for none).
struct RowsPost {
  torch::Tensor norm_weight, norm_bias;
  double eps = 1e-5;
  torch::Tensor slope, shared, rows, residual, residual_pos;
};

// That post-processing for inference, fused onto the aggregation of the rows' pre-activations
// (aggregate_into): row r, config k <- prelu(norm(z[r, k])) - shared[rows[r]] + residual[i, k]
// where residual_pos[i] = r, written to out() [R, K, C] float and, with low_copy, rounded to
// bfloat16 in low() as well (the next layer's bf16 product input). As separate ops each step was
// a pass over all rows x configs, and those passes were most of a bf16 eval step.
class LayerRowsPost : public RowSink {
 public:
  LayerRowsPost(const RowsPost& post, int64_t k, bool low_copy);
  void finish(int64_t row, float* sums) const override;
  const torch::Tensor& out() const { return out_; }
  const torch::Tensor& low() const { return low_; }

  // The raw arrays of the kernel; source[r]: the residual row added to row r, or -1.
  struct Arrays {
    float* y;
    uint16_t* low;
    const float *gamma, *beta, *slope, *base, *add;
    const int64_t *row_of, *source;
    int64_t k, c;
    float eps;
  };

 private:
  torch::Tensor gamma_, beta_, slope_, shared_, row_of_, residual_, out_, low_;
  std::vector<int64_t> source_;
  Arrays arrays_{};
};

}  // namespace gst
