// The readout's pooling of a batch's per-config rows for inference, in one pass over them.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace gst {

// Per run b of rows [offsets[b], offsets[b + 1]) of d [n, K, H] (a layer's per-config rows) with
// base [n, H] (the same rows' shared states): sum [B, K, H] of d, max [B, K, H] of base + d
// (-inf for an empty run) and, with weights w [n], weighted [B, K, H], the sum of w[r] d[r]
// (undefined without w). As separate ops the readout materialized base + d and w d for all rows
// and configs and read d four times; here each row of d is read once.
struct RowPools {
  torch::Tensor sum, max, weighted;
};
// Inference on the CPU only (no autograd); d, base and w float.
RowPools pool_rows(const torch::Tensor& d, const torch::Tensor& base, const torch::Tensor& w,
                   const std::vector<int64_t>& offsets);

}  // namespace gst
