// Neighbour aggregation as sparse-dense products: y = sum_t A_t x_t with A_t fixed sparse matrices
// in CSR form, built once per segment batch on the host and reused by every layer and config.
//
// One fused pass per output row: every term's rows are read once (in their own dtype, bfloat16
// included), summed in float (double for double inputs) and written once in the requested dtype,
// so a bf16 matrix product's output feeds the aggregation without a cast, and the fp32 result
// keeps the precision of the (later) per-config differences. The backward pass is the same kernel
// with the transposed matrices (kept beside the forward ones), so it needs no atomics and gives
// the same bits for any thread count. On a device other than the CPU the same products run as
// index_select + index_add_.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace gst {

// A sparse matrix [rows, cols] and its transpose, both CSR on the host (CPU), plus its entries as
// COO lists on the device of the tensors it multiplies (the non-CPU path).
struct SparseRows {
  int64_t rows = 0, cols = 0;
  torch::Tensor rowptr, col, value;        // CSR: [rows + 1], [nnz] int64, [nnz] double
  torch::Tensor t_rowptr, t_col, t_value;  // the transpose: [cols + 1], [nnz], [nnz]
  torch::Tensor coo_to, coo_from;          // [nnz] int64 on the device
  torch::Tensor coo_value;                 // [nnz, 1] float64 on the device

  SparseRows() = default;
  // Entries y[to[i]] += weight[i] * x[from[i]], to in [0, rows), from in [0, cols); repeated
  // pairs add up. device: where the COO lists live.
  SparseRows(int64_t rows, int64_t cols, const std::vector<int64_t>& to,
             const std::vector<int64_t>& from, const std::vector<double>& weight,
             torch::Device device = torch::kCPU);
  // y[r] = x[from[r]] for r in [0, from.size()): a gather.
  static SparseRows gather(int64_t cols, const std::vector<int64_t>& from,
                           torch::Device device = torch::kCPU);
  bool defined() const { return rowptr.defined(); }
  int64_t entries() const { return col.defined() ? col.numel() : 0; }
};

// One term A x of a sum: x [A.cols(), w] (any row stride, unit column stride) where w divides the
// output width C; a narrower term is added to each of the C / w chunks of an output row (a state
// shared by K configs added to their K per-config rows).
struct AggregationTerm {
  const SparseRows* matrix;
  torch::Tensor x;
};

// y [rows, C] = sum_t A_t x_t in dtype `out`, differentiable in every x_t (float, double or
// bfloat16, mixed allowed). Every A_t has the same number of rows; the first term's width is C.
// x may have more dimensions than two: all but the first are flattened (and restored on y).
torch::Tensor aggregate(const std::vector<AggregationTerm>& terms, torch::ScalarType out);

// Where an inference kernel fused onto the aggregation takes each row of the sums instead of a
// plain write (model/activation.h): one pass over the rows where two would each read and write
// them all. finish(r, sums) gets row r's C sums in float and may change them in place; rows are
// finished in parallel, each once.
class RowSink {
 public:
  virtual ~RowSink() = default;
  virtual void finish(int64_t row, float* sums) const = 0;
};

// Inference on the CPU only (no autograd): sum_t A_t x_t with float or bfloat16 x_t, each row
// handed to `sink`.
void aggregate_into(const std::vector<AggregationTerm>& terms, const RowSink& sink);

// The reference: the same sum with index_select + index_add_ (any device; tests).
torch::Tensor aggregate_reference(const std::vector<AggregationTerm>& terms, torch::ScalarType out);

}  // namespace gst
