// Checksums of store files: XXH64 (the xxHash 64-bit algorithm), streamed over a file's bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace gst {

// Incremental XXH64; the digest equals xxHash's XXH64(data, size, seed).
class Xxh64 {
 public:
  explicit Xxh64(uint64_t seed = 0);
  void update(const void* data, size_t size);
  uint64_t digest() const;

 private:
  uint64_t v_[4];
  uint64_t seed_;
  uint64_t total_ = 0;
  unsigned char buffer_[32];
  size_t buffered_ = 0;
};

uint64_t xxh64(const void* data, size_t size, uint64_t seed = 0);

// "xxh64:<16 hex digits>" of the whole file; throws gst::Error when it cannot be read.
std::string file_checksum(const std::filesystem::path& path);

}  // namespace gst
