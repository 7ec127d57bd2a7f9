// Shared helpers for tests and benchmarks: scratch directories and running commands.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace gst {
class MpiCommunicator;
}

namespace gst::testing {

// A fresh directory under the system temp dir, removed when the object dies.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code = 0;
  std::string output;  // stdout and stderr together
};

// Runs a shell command, capturing its output; never throws on a non-zero exit.
CommandResult run_command(const std::string& command);

// Runs `/usr/bin/python3 -c script` (numpy, h5py) with the given arguments.
CommandResult run_python(const std::string& script, const std::string& args = "");

// A benchmark's integer option "--name VALUE" from argv, or fallback when absent.
int64_t int_arg(int argc, char** argv, const char* name, int64_t fallback);

// This process's MPI world, started on first use: world size 1 in gst_tests and the benchmarks
// (a single process is world size 1), every rank of the job in gst_mpi_tests under mpirun.
MpiCommunicator& world();

// The `gst` executable built alongside the tests, and the source tree.
inline std::string gst_binary() { return GST_BINARY; }
inline std::filesystem::path source_dir() { return GST_SOURCE_DIR; }

}  // namespace gst::testing
