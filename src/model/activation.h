// PReLU with one slope per channel of the last dimension, as one pass forward and one backward.
// LibTorch 1.13's CPU prelu_backward reduces the slope gradient element by element: it took over a
// third of a training step (gst_step_bench). Values equal torch::prelu's; the slope gradient is
// summed over fixed blocks of rows in a fixed order, so it is the same for any thread count.
#pragma once

#include <torch/torch.h>

namespace gst {

// x [..., C] (float or double), weight [C] -> [..., C].
torch::Tensor prelu_channels(const torch::Tensor& x, const torch::Tensor& weight);

}  // namespace gst
