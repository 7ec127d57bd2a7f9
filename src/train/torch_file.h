// Loading torch-serialized checkpoint files (model, optimizers) with errors that name the file.
#pragma once

#include <torch/torch.h>

#include <filesystem>

#include "common/errors.h"

namespace gst {

template <typename T>
void load_torch_file(T& value, const std::filesystem::path& file, torch::Device device) {
  try {
    torch::load(value, file.string(), device);
  } catch (const c10::Error& e) {
    input_error("{}: cannot load it ({}); was it written by another model version or config?",
                file.string(), e.msg());
  }
}

}  // namespace gst
