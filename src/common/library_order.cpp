#include "common/library_order.h"

#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/errors.h"

namespace gst {
namespace {

constexpr const char* kPreloadedMark = "GST_LIBSTDCXX_PRELOADED";

// The path of the libstdc++.so.6 this process has loaded, or empty.
std::string loaded_libstdcxx() {
  void* handle = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_NOLOAD);
  if (!handle) return "";
  link_map* map = nullptr;
  std::string path;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name) path = map->l_name;
  dlclose(handle);
  return path;
}

// True when remove_all comes from libstdc++ or from the executable itself (a static libstdc++).
bool bound_to_standard_library(const std::string& owner) {
  Dl_info self{};
  const bool own = dladdr(reinterpret_cast<void*>(&filesystem_library), &self) && self.dli_fname &&
                   owner == self.dli_fname;
  return owner.empty() || own || owner.find("libstdc++") != std::string::npos;
}

// This process's arguments, argv[0] included, as the kernel holds them.
std::vector<std::string> program_arguments() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> out;
  for (std::string arg; std::getline(in, arg, '\0');) out.push_back(arg);
  if (out.empty()) fail("cannot read /proc/self/cmdline to re-run this program");
  return out;
}

}  // namespace

std::string filesystem_library() {
  using RemoveAll = std::uintmax_t (*)(const std::filesystem::path&);
  // The address is taken through the GOT, so it is the definition that calls reach.
  const auto remove_all = static_cast<RemoveAll>(&std::filesystem::remove_all);
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(remove_all), &info) || !info.dli_fname) return "";
  return info.dli_fname;
}

void keep_filesystem_in_libstdcxx() {
  const std::string owner = filesystem_library();
  if (bound_to_standard_library(owner)) return;
  const std::string libstdcxx = loaded_libstdcxx();
  if (libstdcxx.empty() || std::getenv(kPreloadedMark))
    fail(
        "std::filesystem resolves into {}, whose copy crashes (a pip LibTorch's); link libstdc++ "
        "as a shared library ahead of LibTorch, or start gst with LD_PRELOAD={}",
        owner, libstdcxx.empty() ? "<path of libstdc++.so.6>" : libstdcxx);
  const char* preload = std::getenv("LD_PRELOAD");
  const std::string value = preload && *preload ? libstdcxx + ":" + preload : libstdcxx;
  if (setenv("LD_PRELOAD", value.c_str(), 1) != 0 || setenv(kPreloadedMark, "1", 1) != 0)
    fail("cannot set LD_PRELOAD to re-run with libstdc++ first: {}", std::strerror(errno));
  std::fprintf(stderr,
               "gst: note: std::filesystem resolves into %s; re-running with LD_PRELOAD=%s\n",
               owner.c_str(), value.c_str());
  const std::vector<std::string> args = program_arguments();
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv("/proc/self/exe", argv.data());
  fail("re-running /proc/self/exe with LD_PRELOAD={} failed: {}", value, std::strerror(errno));
}

}  // namespace gst
