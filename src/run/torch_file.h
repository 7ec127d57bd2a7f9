// Saving and loading torch-serialized checkpoint files (model, optimizers) with errors that name
// the file.
#pragma once

#include <torch/torch.h>

#include <filesystem>
#include <sstream>

#include "common/errors.h"
#include "run/checkpoint.h"

namespace gst {

// Serialized in memory first: torch's own file writer does not say which file failed or why.
template <typename T>
void save_torch_file(const T& value, const std::filesystem::path& file) {
  std::ostringstream out;
  torch::save(value, out);
  write_checkpoint_file(file, out.str());
}

template <typename T>
void load_torch_file(T& value, const std::filesystem::path& file, torch::Device device) {
  try {
    torch::load(value, file.string(), device);
  } catch (const c10::Error& e) {
    input_error(
        "{}: cannot load it ({}); was it written by another model version or config? If the "
        "file is damaged, {}",
        file.string(), e.msg(), resume_hint(file.parent_path()));
  }
}

}  // namespace gst
