#include "model/precision.h"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

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

namespace {

// LibTorch runs bf16 products on the CPU through oneDNN, which caches a primitive per shape (1024
// by default). Segment batches change shape at every call, so the cache only fills: on the
// quickstart collection it held about 0.5 GB of a bf16 run's peak RSS, and a bench step whose
// shapes repeat runs as fast without it. The C API is looked up at run time because a LibTorch may
// carry oneDNN inside with hidden symbols; there, and where the user set the variable, the
// environment decides.
void drop_onednn_primitive_cache() {
  if (std::getenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY")) return;
  using SetCapacity = int (*)(int);
  auto set =
      reinterpret_cast<SetCapacity>(dlsym(RTLD_DEFAULT, "dnnl_set_primitive_cache_capacity"));
  if (!set) {
    setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "0", 0);  // read when oneDNN first builds a primitive
    return;
  }
  if (int status = set(0); status != 0)
    spdlog::warn("oneDNN refused to drop its primitive cache (status {}); bf16 runs keep it",
                 status);
}

}  // namespace

Precision usable_precision(Precision requested, c10::Device device, const char* what) {
  if (requested != Precision::Bf16) return requested;
  if (device.is_cpu()) {
    if (cpu_has_bf16()) {
      drop_onednn_primitive_cache();
      return requested;
    }
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
