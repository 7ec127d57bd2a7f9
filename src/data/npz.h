// numpy .npz archives (a zip of .npy arrays): reading and writing without numpy.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace gst {

// Element types gst reads and writes: numpy's |b1 |u1 <i4 <i8 <f4 <f8.
enum class DType { Bool, U8, I32, I64, F32, F64 };

size_t dtype_size(DType dtype);
const char* dtype_descr(DType dtype);  // "<f4", ...

// One array: raw little-endian C-order bytes plus dtype and shape.
struct NpyArray {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  int64_t size() const;  // number of elements
  bool is_integer() const;
  // Converted copies. to_int64 accepts integer/bool arrays only; to_float/to_double any dtype.
  // `what` names the array in errors ("graph.npz: edge_index").
  std::vector<int64_t> to_int64(const std::string& what) const;
  std::vector<float> to_float(const std::string& what) const;
  std::vector<double> to_double(const std::string& what) const;

  template <typename T>
  static NpyArray from(const std::vector<T>& values, std::vector<int64_t> shape);
};

using NpzArrays = std::map<std::string, NpyArray>;  // key without ".npy" -> array

// Reads every array of an .npz (stored or deflated entries, .npy 1.0/2.0/3.0). Throws
// InputError naming the file and the array for anything malformed or unsupported.
NpzArrays read_npz(const std::filesystem::path& path);

// Writes an .npz readable by np.load; compress=true is savez_compressed. Written to a temporary
// name and renamed, so the file is complete or absent.
void write_npz(const std::filesystem::path& path, const NpzArrays& arrays, bool compress);

}  // namespace gst
