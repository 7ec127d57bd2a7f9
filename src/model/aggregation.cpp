#include "model/aggregation.h"

#include <ATen/Parallel.h>
#include <ATen/record_function.h>

#include <algorithm>
#include <type_traits>

#include "common/errors.h"
#include "model/bf16_bits.h"
#include "model/vector_clones.h"

namespace gst {

namespace {

// CSR of the entries (to, from, weight) with `rows` rows, entries of a row in input order.
void build_csr(int64_t rows, const std::vector<int64_t>& to, const std::vector<int64_t>& from,
               const std::vector<double>& weight, torch::Tensor& rowptr, torch::Tensor& col,
               torch::Tensor& value) {
  const auto nnz = static_cast<int64_t>(to.size());
  rowptr = torch::zeros({rows + 1}, torch::kInt64);
  col = torch::empty({nnz}, torch::kInt64);
  value = torch::empty({nnz}, torch::kFloat64);
  int64_t* ptr = rowptr.data_ptr<int64_t>();
  for (int64_t r : to) ++ptr[r + 1];
  for (int64_t r = 0; r < rows; ++r) ptr[r + 1] += ptr[r];
  std::vector<int64_t> next(ptr, ptr + rows);
  int64_t* c = col.data_ptr<int64_t>();
  double* v = value.data_ptr<double>();
  for (int64_t i = 0; i < nnz; ++i) {
    const int64_t slot = next[to[i]]++;
    c[slot] = from[i];
    v[slot] = weight[i];
  }
}

// acc [width] += v * x: x [in_width]; a narrower x repeats across acc, a wider one (a transposed
// broadcast) is summed chunk by chunk into it. Convert: x's element to Acc.
template <typename Acc, typename In, typename Convert>
GST_INLINE void add_row(Acc* __restrict acc, int64_t width, const In* __restrict x,
                        int64_t in_width, Acc v, Convert convert) {
  if (in_width <= width) {
    for (int64_t c0 = 0; c0 < width; c0 += in_width)
      for (int64_t i = 0; i < in_width; ++i) acc[c0 + i] += v * convert(x[i]);
  } else {
    for (int64_t c0 = 0; c0 < in_width; c0 += width)
      for (int64_t i = 0; i < width; ++i) acc[i] += v * convert(x[c0 + i]);
  }
}

// One term of the kernel: a CSR (rowptr, col, value) over the rows of x.
struct KernelTerm {
  const int64_t *rowptr, *col;
  const double* value;
  const void* x;
  torch::ScalarType dtype;
  int64_t stride, width;  // x's row stride and width, in elements
};

// acc [width] <- row r of sum_t A_t x_t.
template <typename Acc>
GST_AVX2_CLONES void sum_row(const KernelTerm* terms, size_t count, int64_t r, int64_t width,
                             Acc* __restrict acc) {
  for (int64_t i = 0; i < width; ++i) acc[i] = Acc(0);
  for (size_t k = 0; k < count; ++k) {
    const KernelTerm& t = terms[k];
    for (int64_t j = t.rowptr[r]; j < t.rowptr[r + 1]; ++j) {
      const auto v = static_cast<Acc>(t.value[j]);
      const int64_t offset = t.col[j] * t.stride;
      switch (t.dtype) {
        case torch::kFloat:
          add_row(acc, width, static_cast<const float*>(t.x) + offset, t.width, v,
                  [](float x) { return static_cast<Acc>(x); });
          break;
        case torch::kDouble:
          add_row(acc, width, static_cast<const double*>(t.x) + offset, t.width, v,
                  [](double x) { return static_cast<Acc>(x); });
          break;
        default:  // kBFloat16 (checked)
          add_row(acc, width, static_cast<const uint16_t*>(t.x) + offset, t.width, v,
                  [](uint16_t x) { return static_cast<Acc>(bf16_to_float(x)); });
      }
    }
  }
}

// Row r's sums written to out [rows, width] in its dtype (bfloat16: round to nearest even).
template <typename Acc>
void write_row(const Acc* acc, int64_t r, int64_t width, const torch::Tensor& out) {
  char* dst = static_cast<char*>(out.data_ptr()) + r * width * out.element_size();
  switch (out.scalar_type()) {
    case torch::kFloat:
      std::copy(acc, acc + width, reinterpret_cast<float*>(dst));
      break;
    case torch::kDouble:
      std::copy(acc, acc + width, reinterpret_cast<double*>(dst));
      break;
    default: {
      auto* o = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < width; ++i) o[i] = float_to_bf16(static_cast<float>(acc[i]));
    }
  }
}

// Every row summed, then written to out or handed to sink (float sums only).
template <typename Acc>
void run_kernel(const std::vector<KernelTerm>& terms, int64_t rows, int64_t width,
                const torch::Tensor& out, const RowSink* sink) {
  // Rows carry width x entries of work: a grain of about 64k values per task.
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(width, 1));
  at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    std::vector<Acc> acc(width);
    for (int64_t r = begin; r < end; ++r) {
      sum_row(terms.data(), terms.size(), r, width, acc.data());
      if constexpr (std::is_same_v<Acc, float>) {
        if (sink != nullptr) {
          sink->finish(r, acc.data());
          continue;
        }
      }
      write_row(acc.data(), r, width, out);
    }
  });
}

bool supported(torch::ScalarType t) {
  return t == torch::kFloat || t == torch::kDouble || t == torch::kBFloat16;
}

// x as [n, w] with unit column stride (a copy only when its layout needs one).
torch::Tensor as_rows(const torch::Tensor& x) {
  torch::Tensor m = x.dim() == 2 ? x : x.reshape({x.size(0), -1});
  return m.stride(1) == 1 ? m : m.contiguous();
}

// y [rows, width] = sum_t M_t x_t, M_t given as CSR triples (rowptr, col, value); or, with a
// sink, each row of the sums handed to it (float sums: no double input).
torch::Tensor multiply(const std::vector<torch::Tensor>& csr, const std::vector<torch::Tensor>& xs,
                       int64_t rows, int64_t width, torch::ScalarType out,
                       const RowSink* sink = nullptr) {
  RECORD_FUNCTION("gst::aggregate", std::vector<c10::IValue>());  // for profilers (benchmarks)
  std::vector<KernelTerm> terms;
  std::vector<torch::Tensor> keep;
  bool any_double = out == torch::kDouble;
  for (size_t t = 0; t < xs.size(); ++t) {
    torch::Tensor x = as_rows(xs[t]);
    keep.push_back(x);
    any_double = any_double || x.scalar_type() == torch::kDouble;
    terms.push_back({csr[3 * t].data_ptr<int64_t>(), csr[3 * t + 1].data_ptr<int64_t>(),
                     csr[3 * t + 2].data_ptr<double>(), x.data_ptr(), x.scalar_type(), x.stride(0),
                     x.size(1)});
  }
  GST_CHECK(sink == nullptr || !any_double, "aggregate_into: float or bfloat16 terms expected");
  torch::Tensor y;
  if (sink == nullptr) y = torch::empty({rows, width}, torch::TensorOptions().dtype(out));
  if (any_double)
    run_kernel<double>(terms, rows, width, y, sink);
  else
    run_kernel<float>(terms, rows, width, y, sink);
  return y;
}

class AggregateFunction : public torch::autograd::Function<AggregateFunction> {
 public:
  // forward_csr / backward_csr: 3 tensors per term (rowptr, col, value), forward and transposed.
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                torch::TensorList xs,
                                                std::vector<torch::Tensor> forward_csr,
                                                std::vector<torch::Tensor> backward_csr,
                                                int64_t rows, int64_t width,
                                                torch::ScalarType out) {
    std::vector<torch::Tensor> inputs(xs.begin(), xs.end());
    std::vector<int64_t> shape;  // per term: rows, width, dtype
    for (const torch::Tensor& x : inputs) {
      shape.push_back(x.size(0));
      shape.push_back(x.numel() / std::max<int64_t>(x.size(0), 1));
      shape.push_back(static_cast<int64_t>(x.scalar_type()));
    }
    ctx->saved_data["csr"] = backward_csr;
    ctx->saved_data["shape"] = shape;
    return {multiply(forward_csr, inputs, rows, width, out)};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const std::vector<torch::Tensor> csr = ctx->saved_data["csr"].toTensorVector();
    const std::vector<int64_t> shape = ctx->saved_data["shape"].toIntVector();
    const size_t n = shape.size() / 3;
    torch::Tensor g = grads.at(0).contiguous();
    torch::autograd::variable_list out(n + 5);  // one per x, then the non-tensor arguments
    for (size_t t = 0; t < n; ++t) {
      if (!ctx->needs_input_grad(t)) continue;
      out[t] = multiply({csr[3 * t], csr[3 * t + 1], csr[3 * t + 2]}, {g}, shape[3 * t],
                        shape[3 * t + 1], static_cast<torch::ScalarType>(shape[3 * t + 2]));
    }
    return out;
  }
};

void check_terms(const std::vector<AggregationTerm>& terms) {
  GST_CHECK(!terms.empty(), "aggregate needs at least one term");
  const int64_t rows = terms[0].matrix->rows;
  const int64_t width = terms[0].x.numel() / std::max<int64_t>(terms[0].x.size(0), 1);
  for (const AggregationTerm& t : terms) {
    GST_CHECK(t.matrix->defined() && t.matrix->rows == rows,
              "aggregate: every matrix needs {} rows", rows);
    GST_CHECK(t.x.dim() >= 1 && t.x.size(0) == t.matrix->cols,
              "aggregate: a term's x has {} rows for a matrix of {} columns",
              t.x.dim() >= 1 ? t.x.size(0) : 0, t.matrix->cols);
    const int64_t w = t.x.numel() / std::max<int64_t>(t.x.size(0), 1);
    GST_CHECK(w > 0 && width % w == 0, "aggregate: term width {} does not divide {}", w, width);
    GST_CHECK(supported(t.x.scalar_type()), "aggregate: unsupported dtype {}",
              c10::toString(t.x.scalar_type()));
  }
}

// y's shape: [rows] + the first term's trailing dimensions.
std::vector<int64_t> out_shape(const std::vector<AggregationTerm>& terms) {
  std::vector<int64_t> shape = terms[0].x.sizes().vec();
  shape[0] = terms[0].matrix->rows;
  return shape;
}

}  // namespace

SparseRows::SparseRows(int64_t rows_, int64_t cols_, const std::vector<int64_t>& to,
                       const std::vector<int64_t>& from, const std::vector<double>& weight,
                       torch::Device device)
    : rows(rows_), cols(cols_) {
  GST_CHECK(to.size() == from.size() && to.size() == weight.size(),
            "sparse matrix: {} targets, {} sources, {} weights", to.size(), from.size(),
            weight.size());
  for (size_t i = 0; i < to.size(); ++i) {
    GST_CHECK(to[i] >= 0 && to[i] < rows && from[i] >= 0 && from[i] < cols,
              "sparse matrix [{}, {}]: entry ({}, {}) out of range", rows, cols, to[i], from[i]);
  }
  build_csr(rows, to, from, weight, rowptr, col, value);
  build_csr(cols, from, to, weight, t_rowptr, t_col, t_value);
  if (device.type() != torch::kCPU) {
    const auto nnz = static_cast<int64_t>(to.size());
    coo_to = torch::tensor(to, torch::kInt64).view({nnz}).to(device);
    coo_from = torch::tensor(from, torch::kInt64).view({nnz}).to(device);
    coo_value = torch::tensor(weight, torch::kFloat64).view({nnz, 1}).to(device);
  }
}

SparseRows SparseRows::gather(int64_t cols, const std::vector<int64_t>& from,
                              torch::Device device) {
  std::vector<int64_t> to(from.size());
  for (size_t i = 0; i < to.size(); ++i) to[i] = static_cast<int64_t>(i);
  return SparseRows(static_cast<int64_t>(from.size()), cols, to, from,
                    std::vector<double>(from.size(), 1.0), device);
}

torch::Tensor aggregate(const std::vector<AggregationTerm>& terms, torch::ScalarType out) {
  check_terms(terms);
  GST_CHECK(supported(out), "aggregate: unsupported output dtype {}", c10::toString(out));
  if (terms[0].x.device().type() != torch::kCPU) return aggregate_reference(terms, out);
  std::vector<torch::Tensor> xs, forward_csr, backward_csr;
  for (const AggregationTerm& t : terms) {
    xs.push_back(t.x.reshape({t.x.size(0), -1}));  // 2-d, so the gradients are too
    forward_csr.insert(forward_csr.end(), {t.matrix->rowptr, t.matrix->col, t.matrix->value});
    backward_csr.insert(backward_csr.end(),
                        {t.matrix->t_rowptr, t.matrix->t_col, t.matrix->t_value});
  }
  const int64_t rows = terms[0].matrix->rows;
  const int64_t width = terms[0].x.numel() / std::max<int64_t>(terms[0].x.size(0), 1);
  torch::Tensor y =
      AggregateFunction::apply(torch::TensorList(xs), forward_csr, backward_csr, rows, width, out)
          .at(0);
  return y.view(out_shape(terms));
}

void aggregate_into(const std::vector<AggregationTerm>& terms, const RowSink& sink) {
  check_terms(terms);
  GST_CHECK(!torch::GradMode::is_enabled() && terms[0].x.device().is_cpu(),
            "aggregate_into is for CPU inference (no autograd)");
  std::vector<torch::Tensor> xs, csr;
  for (const AggregationTerm& t : terms) {
    xs.push_back(t.x);
    csr.insert(csr.end(), {t.matrix->rowptr, t.matrix->col, t.matrix->value});
  }
  const int64_t width = terms[0].x.numel() / std::max<int64_t>(terms[0].x.size(0), 1);
  multiply(csr, xs, terms[0].matrix->rows, width, torch::kFloat, &sink);
}

torch::Tensor aggregate_reference(const std::vector<AggregationTerm>& terms,
                                  torch::ScalarType out) {
  check_terms(terms);
  const torch::Device device = terms[0].x.device();
  const int64_t rows = terms[0].matrix->rows;
  const int64_t width = terms[0].x.numel() / std::max<int64_t>(terms[0].x.size(0), 1);
  torch::Tensor y = torch::zeros({rows, width}, terms[0].x.options().dtype(out));
  for (const AggregationTerm& t : terms) {
    const SparseRows& m = *t.matrix;
    torch::Tensor to = m.coo_to, from = m.coo_from, value = m.coo_value;
    if (!to.defined() || to.device() != device) {  // a CPU matrix: its COO from the CSR
      const torch::Tensor counts = m.rowptr.slice(0, 1) - m.rowptr.slice(0, 0, -1);
      to = torch::repeat_interleave(torch::arange(m.rows, torch::kInt64), counts).to(device);
      from = m.col.to(device);
      value = m.value.view({-1, 1}).to(device);
    }
    torch::Tensor x = t.x.reshape({t.x.size(0), -1});
    torch::Tensor src = x.index_select(0, from).to(out) * value.to(out);
    if (src.size(1) < width) src = src.repeat({1, width / src.size(1)});
    y = y.index_add(0, to, src);
  }
  return y.view(out_shape(terms));
}

}  // namespace gst
