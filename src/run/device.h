// The torch device that a train.device / --device choice names on this machine.
#pragma once

#include <c10/core/Device.h>

#include "run/run_config.h"

namespace gst {

// cpu, cuda (an InputError naming `what` when this LibTorch has no CUDA or no GPU is visible), or
// auto: cuda where it is usable, else the CPU.
c10::Device resolve_device(DeviceChoice choice, const char* what);

}  // namespace gst
