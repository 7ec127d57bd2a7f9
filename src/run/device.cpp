#include "run/device.h"

#include <torch/cuda.h>

#include "common/errors.h"

namespace gst {

c10::Device resolve_device(DeviceChoice choice, const char* what) {
  const bool cuda = torch::cuda::is_available();
  if (choice == DeviceChoice::Cuda && !cuda)
    input_error("{} is 'cuda' but this LibTorch has no CUDA or no GPU is visible", what);
  if (choice == DeviceChoice::Cuda || (choice == DeviceChoice::Auto && cuda))
    return c10::Device(c10::kCUDA);
  return c10::Device(c10::kCPU);
}

}  // namespace gst
