#include "model/precision.h"

#include <spdlog/spdlog.h>

#ifdef GST_WITH_NCCL
#include <cuda_runtime_api.h>
#endif

namespace gst {

bool cpu_has_bf16() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("avx512bf16") || __builtin_cpu_supports("amx-bf16");
#else
  return false;
#endif
}

int64_t bucketed_rows(int64_t rows) {
  if (rows < 16) return rows;
  const int64_t step = int64_t{1} << (60 - __builtin_clzll(static_cast<uint64_t>(rows)));
  return (rows + step - 1) / step * step;
}

Precision usable_precision(Precision requested, c10::Device device, const char* what) {
  if (requested != Precision::Bf16) return requested;
  if (device.is_cpu()) {
    if (cpu_has_bf16()) return requested;
    spdlog::warn("{}: bf16 requested, but this CPU has neither AVX512-BF16 nor AMX; using fp32",
                 what);
    return Precision::Fp32;
  }
#ifdef GST_WITH_NCCL
  if (device.is_cuda()) {
    cudaDeviceProp prop{};
    const int index = device.has_index() ? device.index() : 0;
    if (cudaGetDeviceProperties(&prop, index) == cudaSuccess && prop.major < 8) {
      spdlog::warn(
          "{}: bf16 requested, but CUDA device {} has compute capability {}.{} (< 8.0); "
          "using fp32",
          what, index, prop.major, prop.minor);
      return Precision::Fp32;
    }
  }
#endif
  return requested;
}

}  // namespace gst
