// Compute precision of the model's matrix products: fp32, or bf16 (bfloat16 inputs, float
// accumulation) with everything else (normalization, activations, per-config differences, the
// readout, the head, the loss) and the master weights and optimizer state in fp32.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <array>
#include <cstdint>
#include <utility>

namespace gst {

enum class Precision { Fp32, Bf16 };
constexpr auto enum_names(Precision) {
  return std::array{std::pair{Precision::Fp32, "fp32"}, std::pair{Precision::Bf16, "bf16"}};
}

// The precision to run on `device`: bf16 on a CPU without AVX512-BF16 or AMX falls back to fp32
// with a warning (LibTorch would emulate bf16 slower than fp32); on CUDA bf16 needs compute
// capability 8.0 (checked where the CUDA runtime is linked, i.e. GST_WITH_NCCL builds) and
// otherwise falls back likewise. `what` names the setting in the warning (e.g. "train.precision").
Precision usable_precision(Precision requested, c10::Device device, const char* what);

// Whether this CPU multiplies bf16 matrices in hardware (AVX512-BF16 or AMX-BF16).
bool cpu_has_bf16();

// The rows a bf16 product on the CPU is padded to: oneDNN JIT-compiles a primitive for every
// product shape, and segment batches change shape at every call, so unpadded each product paid for
// a new kernel (a tile training step ran 3x slower in bf16 than in fp32). Rounding up to 8 steps
// per doubling (at most 1/8 more rows; exact below 16) leaves few shapes for its primitive cache.
int64_t bucketed_rows(int64_t rows);

// The dtype of matrix-product inputs: kBFloat16 for bf16, else `otherwise` (the input's dtype).
inline c10::ScalarType matmul_dtype(Precision p, c10::ScalarType otherwise) {
  return p == Precision::Bf16 ? c10::kBFloat16 : otherwise;
}

}  // namespace gst
