// Shared helpers for tests and benchmarks: scratch directories and running commands.
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

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

// Makes `dir` the working directory until the object dies, for tests that pass relative paths.
class WorkingDirectory {
 public:
  explicit WorkingDirectory(const std::filesystem::path& dir);
  ~WorkingDirectory();
  WorkingDirectory(const WorkingDirectory&) = delete;
  WorkingDirectory& operator=(const WorkingDirectory&) = delete;

 private:
  std::filesystem::path previous_;
};

struct CommandResult {
  int exit_code = 0;
  std::string output;  // stdout and stderr together
};

// Runs a shell command, capturing its output; never throws on a non-zero exit.
CommandResult run_command(const std::string& command);

// Runs `work` in a child process whose files may not grow past `bytes` (a full disk: writes
// past it fail with EFBIG) and returns the message of the exception it threw; throws if it
// threw none or the child died otherwise.
std::string error_under_file_size_limit(rlim_t bytes, const std::function<void()>& work);

// The shell command that runs `command` (a program and its arguments) as an MPI job of `ranks`
// ranks: one OpenMP thread per rank, root allowed, more ranks than cores allowed; `options` go to
// mpirun before -np. Ended by `timeout` after timeout_s seconds; 0 leaves mpirun the direct child
// of the shell (for tests that signal it or its ranks).
std::string mpirun(int ranks, const std::string& command, int timeout_s = 120,
                   const std::string& options = "");
// The same for `gst <args>` (the gst executable built with the tests).
std::string mpirun_gst(int ranks, const std::string& args, int timeout_s = 120);
// `command` run with the fault plan GST_FAULT=plan (common/fault.h); every rank inherits it.
std::string with_faults(const std::string& plan, const std::string& command);

// A directory that outlives this test process, for a result several tests share (ctest runs each
// test in a process of its own): <build>/tests/shared/<key>-<write time of the gst executable>, so
// a rebuilt gst recomputes it. When absent, `make` fills a fresh directory that is then renamed
// into place, so a result is complete or absent; parallel tests at worst compute it twice. When
// `make` returns false (it failed) the directory is returned without being kept for others.
std::filesystem::path shared_result(const std::string& key,
                                    const std::function<bool(const std::filesystem::path&)>& make);

// Runs `/usr/bin/python3 -c script` (numpy, h5py) with the given arguments.
CommandResult run_python(const std::string& script, const std::string& args = "");

// A benchmark's integer option "--name VALUE" from argv, or fallback when absent.
int64_t int_arg(int argc, char** argv, const char* name, int64_t fallback);
// Drops a file from the page cache for cold-read timings (dropping all caches needs root; this
// needs no privilege). Dirty pages are written first so they can go.
void evict_from_page_cache(const std::filesystem::path& path);
// The p-quantile (p in 0..1, nearest rank) of a benchmark's timings.
double percentile(std::vector<double> values, double p);

// This process's MPI world, started on first use: world size 1 in gst_tests and the benchmarks
// (a single process is world size 1), every rank of the job in gst_mpi_tests under mpirun.
MpiCommunicator& world();

// The `gst` executable built alongside the tests, and the source tree.
inline std::string gst_binary() { return GST_BINARY; }
inline std::filesystem::path source_dir() { return GST_SOURCE_DIR; }

}  // namespace gst::testing
