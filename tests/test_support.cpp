#include "test_support.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>

#include "comm/mpi_communicator.h"
#include "common/library_order.h"

namespace gst::testing {

// Every test and benchmark binary links this file: before main, it re-runs itself with libstdc++
// preloaded where a LibTorch's std::filesystem would be called (common/library_order.h).
[[maybe_unused]] const bool kFilesystemInLibstdcxx = [] {
  keep_filesystem_in_libstdcxx();
  return true;
}();

ScratchDir::ScratchDir(const std::string& tag) {
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() /
          ("gst-" + tag + "-" + std::to_string(rd()) + std::to_string(rd()));
  std::filesystem::create_directories(path_);
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

WorkingDirectory::WorkingDirectory(const std::filesystem::path& dir)
    : previous_(std::filesystem::current_path()) {
  std::filesystem::current_path(dir);
}

WorkingDirectory::~WorkingDirectory() {
  std::error_code ec;
  std::filesystem::current_path(previous_, ec);
}

std::string error_under_file_size_limit(rlim_t bytes, const std::function<void()>& work) {
  char name[] = "/tmp/gst-fsize-XXXXXX";
  const int fd = mkstemp(name);
  if (fd < 0) throw std::runtime_error("cannot create a temporary file for the child's message");
  close(fd);
  const pid_t child = fork();
  if (child < 0) throw std::runtime_error("fork failed");
  if (child == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{bytes, bytes};
    setrlimit(RLIMIT_FSIZE, &limit);
    int code = 0;
    try {
      work();
    } catch (const std::exception& e) {
      std::ofstream(name) << e.what();
      code = 3;
    }
    _exit(code);
  }
  int status = 0;
  waitpid(child, &status, 0);
  std::ifstream in(name);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove(name);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 3)
    throw std::runtime_error("the work under a file size limit did not throw (status " +
                             std::to_string(status) + ")");
  return text;
}

CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed for: " + command);
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) result.output.append(buf.data(), n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

static std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

CommandResult run_python(const std::string& script, const std::string& args) {
  return run_command(std::string(GST_PYTHON) + " -c " + shell_quote(script) + " " + args);
}

MpiCommunicator& world() {
  static MpiCommunicator comm;
  return comm;
}

std::string mpirun(int ranks, const std::string& command, int timeout_s,
                   const std::string& options) {
  std::string line = "OMP_NUM_THREADS=1 ";
  if (timeout_s > 0) line += "timeout " + std::to_string(timeout_s) + " ";
  line += "mpirun --allow-run-as-root --oversubscribe ";
  if (!options.empty()) line += options + " ";
  return line + "-np " + std::to_string(ranks) + " " + command;
}

std::string mpirun_gst(int ranks, const std::string& args, int timeout_s) {
  return mpirun(ranks, gst_binary() + " " + args, timeout_s);
}

std::string with_faults(const std::string& plan, const std::string& command) {
  return "GST_FAULT=" + shell_quote(plan) + " " + command;
}

std::filesystem::path shared_result(const std::string& key,
                                    const std::function<bool(const std::filesystem::path&)>& make) {
  namespace fs = std::filesystem;
  const auto built = fs::last_write_time(gst_binary()).time_since_epoch().count();
  const fs::path dir = fs::path(GST_TEST_SHARED_DIR) / (key + "-" + std::to_string(built));
  if (fs::exists(dir)) return dir;
  std::random_device rd;
  const fs::path staging = dir.string() + ".tmp" + std::to_string(rd());
  fs::create_directories(staging);
  if (!make(staging)) return staging;
  std::error_code ec;
  fs::rename(staging, dir, ec);  // fails when another process got there first: its copy is used
  if (ec) fs::remove_all(staging, ec);
  return dir;
}

int64_t int_arg(int argc, char** argv, const char* name, int64_t fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::atoll(argv[i + 1]);
  return fallback;
}

void evict_from_page_cache(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * (values.size() - 1) + 0.5))];
}

}  // namespace gst::testing
