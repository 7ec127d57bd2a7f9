// A shared library exporting a std::filesystem::remove_all that aborts, as a pip LibTorch's copy
// crashes: preloaded, it takes the binding from libstdc++ (library_order_test.cpp).
#include <cstdlib>
#include <filesystem>

namespace std::filesystem {
uintmax_t remove_all(const path&) { std::abort(); }
}  // namespace std::filesystem
