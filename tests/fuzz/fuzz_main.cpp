// The libFuzzer entry point of one target (GST_FUZZ_TARGET_FN, set by CMake). An InputError is the
// reader's normal answer to bad bytes, provided its message names the input; any other exception,
// a crash or a sanitizer report is a finding.
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "common/errors.h"
#include "fuzz_target.h"

namespace {

// A scratch directory for this process's inputs, removed at exit.
struct Scratch {
  std::filesystem::path path;
  Scratch() {
    std::string pattern = (std::filesystem::temp_directory_path() / "gst-fuzz-XXXXXX").string();
    if (!mkdtemp(pattern.data())) std::abort();
    path = pattern;
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // warnings about rejected inputs would slow every run
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const gst::fuzz::FuzzTarget& target = gst::fuzz::GST_FUZZ_TARGET_FN();
  static Scratch scratch;
  const std::filesystem::path file = scratch.path / target.file;
  std::filesystem::create_directories(file.parent_path());
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    target.run(file, bytes);
  } catch (const gst::InputError& e) {
    const std::string problem = gst::fuzz::rejection_problem(target, file, bytes, e.what());
    if (!problem.empty()) {
      std::fprintf(stderr, "fuzz: rejection message is not good enough: %s\n  %s\n",
                   problem.c_str(), e.what());
      std::abort();
    }
  }
  return 0;
}
