// numpy .npz archives (a zip of .npy arrays): reading and writing without numpy.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
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

// An open .npz for reading arrays one at a time (e.g. to skip keys or read into typed buffers).
// Every array is decompressed straight into its destination buffer.
class NpzReader {
 public:
  explicit NpzReader(const std::filesystem::path& path);  // throws InputError if not a zip
  ~NpzReader();
  NpzReader(const NpzReader&) = delete;
  NpzReader& operator=(const NpzReader&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::vector<std::string>& keys() const { return keys_; }  // without ".npy", zip order
  bool has(const std::string& key) const;

  NpyArray read(const std::string& key);
  // Reads into `values` (shape into `shape`), converting from any dtype to_int64/to_float/
  // to_double accept; no intermediate copy when the stored dtype is already T.
  template <typename T>
  void read_as(const std::string& key, std::vector<T>& values, std::vector<int64_t>& shape);

  struct Entry;
  // One array's data read front to back in pieces of any size, so a huge array (a big graph's
  // node_config_feat) is never held whole. Its reader must outlive it.
  class Stream {
   public:
    ~Stream();
    Stream(Stream&& other) noexcept;
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    Stream& operator=(Stream&&) = delete;
    DType dtype() const;
    const std::vector<int64_t>& shape() const;
    int64_t data_bytes() const;
    int64_t remaining() const { return data_bytes() - done_; }
    const std::string& what() const;  // "file.npz: key"
    // The next `bytes` bytes of the data. Throws InputError naming the file and the array when
    // it ends early or is corrupt (a damaged deflate stream, a CRC mismatch at its end).
    void read(void* dest, size_t bytes);

   private:
    friend class NpzReader;
    Stream(NpzReader* reader, std::unique_ptr<Entry> entry);
    NpzReader* reader_;
    std::unique_ptr<Entry> entry_;
    int64_t done_ = 0;
  };
  // Opens `key` for streaming: its .npy header is read and checked (dtype, shape against the
  // member's size), its data is not.
  Stream stream(const std::string& key);

 private:
  Entry open_entry(const std::string& key);
  void read_data(Entry& entry, void* dest, size_t bytes);

  std::filesystem::path path_;
  void* archive_ = nullptr;  // zip_t*
  std::vector<std::string> keys_;
};

// Reads every array of an .npz (stored or deflated entries, .npy 1.0/2.0/3.0). Throws
// InputError naming the file and the array for anything malformed or unsupported.
NpzArrays read_npz(const std::filesystem::path& path);

// Writes an .npz readable by np.load; compress=true is savez_compressed. Written to a temporary
// name and renamed, so the file is complete or absent.
void write_npz(const std::filesystem::path& path, const NpzArrays& arrays, bool compress);

// An array produced piece by piece while it is written, never held whole (arrays of several GB
// for benchmarks and tests): fill(offset, dest, bytes) writes data bytes [offset, offset + bytes).
struct NpyGenerator {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::function<void(uint64_t offset, uint8_t* dest, size_t bytes)> fill;
};

// write_npz plus generated arrays; an entry's key must not be in both maps.
void write_npz(const std::filesystem::path& path, const NpzArrays& arrays, bool compress,
               const std::map<std::string, NpyGenerator>& generated);

}  // namespace gst
