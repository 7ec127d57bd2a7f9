// Keeps std::filesystem calls in libstdc++ when a LibTorch exports its own copies of them.
#pragma once

#include <string>

namespace gst {

// The file of the shared object whose std::filesystem::remove_all this process calls.
std::string filesystem_library();

// pip's LibTorch 2.x exports std::filesystem functions that crash (remove_all jumps to address 0);
// the executables link libstdc++ first so the loader binds the standard library's, but a
// toolchain whose -lstdc++ is a static archive leaves the binding to LibTorch. Then this re-runs
// the program (execv, the arguments of /proc/self/cmdline) with libstdc++ in LD_PRELOAD; where
// that cannot help it throws, naming the library and the LD_PRELOAD to use. Call first thing in
// main (test binaries: before main, from test_support.cpp).
void keep_filesystem_in_libstdcxx();

}  // namespace gst
