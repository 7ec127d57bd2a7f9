// PReLU with one slope per channel of the last dimension, as one pass forward and one backward;
// and a layer's whole post-processing of its per-config rows for inference, as one pass.
// LibTorch 1.13's CPU prelu_backward reduces the slope gradient element by element: it took over a
// third of a training step (gst_step_bench). Values equal torch::prelu's; the slope gradient is
// summed over fixed blocks of rows in a fixed order, so it is the same for any thread count.
#pragma once

#include <torch/torch.h>

namespace gst {

// x [..., C] (float or double), weight [C] -> [..., C].
torch::Tensor prelu_channels(const torch::Tensor& x, const torch::Tensor& weight);

// What a layer does to its per-config rows, for inference only (no autograd), as one pass in
// place: z[r, k] <- prelu(norm(z[r, k])) - shared[rows[r]] + residual[i, k] where
// residual_pos[i] = r. Each separate op is a pass over all rows x configs, and these passes were
// most of a bf16 eval step. z [R, K, C] float contiguous; norm: LayerNorm over C with
// norm_weight, norm_bias and eps, none when norm_weight is undefined; slope [C]; shared [N, C];
// rows [R]; residual [R', K, C] and residual_pos [R'] (distinct), or undefined. z must not overlap
// shared or residual.
struct RowsPost {
  torch::Tensor norm_weight, norm_bias;
  double eps = 1e-5;
  torch::Tensor slope, shared, rows, residual, residual_pos;
};
void post_minus_shared_(torch::Tensor& z, const RowsPost& post);

}  // namespace gst
