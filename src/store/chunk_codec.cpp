#include "store/chunk_codec.h"

#include <fcntl.h>
#include <libdeflate.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <type_traits>

#include "common/errors.h"
#include "store/hdf5.h"
#include "store/schema.h"

namespace gst {
namespace {

// The first element of chunk `index` along dimension 0 of a dataset of rank `rank`.
std::vector<hsize_t> chunk_origin(int rank, int64_t chunk_rows, int64_t index) {
  std::vector<hsize_t> offset(rank, 0);
  offset[0] = static_cast<hsize_t>(index * chunk_rows);
  return offset;
}

// HDF5's shuffle filter: byte k of every element goes to the k-th plane.
std::vector<uint8_t> shuffle(const uint8_t* data, size_t bytes, size_t element_size) {
  std::vector<uint8_t> out(bytes);
  size_t n = bytes / element_size;
  for (size_t k = 0; k < element_size; ++k) {
    uint8_t* plane = out.data() + k * n;
    for (size_t i = 0; i < n; ++i) plane[i] = data[i * element_size + k];
  }
  return out;
}

template <size_t S>
void unshuffle_fixed(const uint8_t* data, size_t n, uint8_t* out) {
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < S; ++k) out[i * S + k] = data[k * n + i];
}

// The inverse of shuffle, into `out` (bytes long, not overlapping data).
void unshuffle(const uint8_t* data, size_t bytes, size_t element_size, uint8_t* out) {
  size_t n = bytes / element_size;
  // Fixed element sizes let the compiler unroll the byte gather (the read path's hot loop).
  if (element_size == 4) {
    unshuffle_fixed<4>(data, n, out);
  } else if (element_size == 8) {
    unshuffle_fixed<8>(data, n, out);
  } else {
    for (size_t k = 0; k < element_size; ++k) {
      const uint8_t* plane = data + k * n;
      for (size_t i = 0; i < n; ++i) out[i * element_size + k] = plane[i];
    }
  }
}

// libdeflate, one compressor and one decompressor per thread: whole-buffer zlib streams, the
// format HDF5's deflate filter (and so h5py) reads. On shuffled config features it compressed
// 1.6x (level 4) to 2.3x (level 2) and inflated 4.6x faster than zlib's streaming API at level 4
// (src/store/README.md).
class ChunkDeflate {
 public:
  ChunkDeflate() = default;
  ChunkDeflate(const ChunkDeflate&) = delete;
  ChunkDeflate& operator=(const ChunkDeflate&) = delete;
  ~ChunkDeflate() {
    if (compressor_ != nullptr) libdeflate_free_compressor(compressor_);
    if (decompressor_ != nullptr) libdeflate_free_decompressor(decompressor_);
  }

  std::vector<uint8_t> compress(const std::vector<uint8_t>& in, int level) {
    if (compressor_ == nullptr || level != level_) {
      if (compressor_ != nullptr) libdeflate_free_compressor(compressor_);
      compressor_ = libdeflate_alloc_compressor(level);
      if (compressor_ == nullptr) fail("libdeflate_alloc_compressor failed at level {}", level);
      level_ = level;
    }
    std::vector<uint8_t> out(libdeflate_zlib_compress_bound(compressor_, in.size()));
    const size_t n =
        libdeflate_zlib_compress(compressor_, in.data(), in.size(), out.data(), out.size());
    if (n == 0) fail("libdeflate_zlib_compress failed on {} bytes at level {}", in.size(), level);
    out.resize(n);
    return out;
  }

  // Inflates `in` into exactly `size` bytes at out; empty on success, else what was wrong.
  std::string decompress(const uint8_t* in, size_t in_size, uint8_t* out, size_t size) {
    if (decompressor_ == nullptr) decompressor_ = libdeflate_alloc_decompressor();
    if (decompressor_ == nullptr) return "libdeflate_alloc_decompressor failed";
    size_t actual = 0;
    switch (libdeflate_zlib_decompress(decompressor_, in, in_size, out, size, &actual)) {
      case LIBDEFLATE_SUCCESS:
        return actual == size ? "" : fmt::format("{} bytes inflated, {} expected", actual, size);
      case LIBDEFLATE_INSUFFICIENT_SPACE:
        return fmt::format("more than the {} bytes expected", size);
      default:
        return "not a valid zlib stream (bad data or checksum)";
    }
  }

 private:
  libdeflate_compressor* compressor_ = nullptr;
  libdeflate_decompressor* decompressor_ = nullptr;
  int level_ = -1;
};

ChunkDeflate& chunk_deflate() {
  thread_local ChunkDeflate codec;
  return codec;
}

std::vector<uint8_t> deflate_bytes(const std::vector<uint8_t>& in, int level) {
  return chunk_deflate().compress(in, level);
}

template <typename T>
hid_t type_of() {
  return h5::native_type<T>();
}

}  // namespace

std::vector<uint8_t> encode_chunk(const uint8_t* data, size_t used, size_t chunk_bytes,
                                  size_t element_size, int level) {
  std::vector<uint8_t> chunk(chunk_bytes, 0);
  std::memcpy(chunk.data(), data, used);
  if (level > 0) {
    if (element_size > 1) chunk = shuffle(chunk.data(), chunk.size(), element_size);
    chunk = deflate_bytes(chunk, level);
  }
  return chunk;
}

bool narrow_to_int8(const float* values, size_t count, int8_t* out) {
  bool exact = true;
  for (size_t i = 0; i < count; ++i) {
    const float v = values[i];
    const bool in_range = v >= -128.0f && v <= 127.0f;  // false for NaN
    const auto code = static_cast<int8_t>(in_range ? v : 0.0f);
    const float back = code;
    uint32_t a, b;  // bitwise: -0.0 and NaN do not round-trip
    std::memcpy(&a, &v, sizeof a);
    std::memcpy(&b, &back, sizeof b);
    exact &= in_range & (a == b);
    out[i] = code;
  }
  return exact;
}

namespace {

// The fields every dataset of element type T sets, whether encoded at once or chunk by chunk.
template <typename T>
EncodedDataset dataset_of(std::string name, std::vector<int64_t> shape, int64_t chunk_rows,
                          int level) {
  EncodedDataset out;
  out.name = std::move(name);
  out.type = &type_of<T>;
  out.element_size = sizeof(T);
  out.level = level;
  const int64_t rows = shape.empty() ? 1 : shape[0];
  out.shape = std::move(shape);
  out.chunk_rows =
      std::clamp<int64_t>(chunk_rows <= 0 ? rows : chunk_rows, 1, std::max<int64_t>(rows, 1));
  return out;
}

}  // namespace

template <typename T>
EncodedDataset encode_dataset(std::string name, const std::vector<T>& values,
                              std::vector<int64_t> shape, int64_t chunk_rows, int level) {
  int64_t rows = shape.empty() ? 1 : shape[0];
  int64_t row_elements = 1;
  for (size_t d = 1; d < shape.size(); ++d) row_elements *= shape[d];
  GST_CHECK(static_cast<int64_t>(values.size()) == rows * row_elements,
            "dataset {}: {} values for its shape", name, values.size());
  EncodedDataset out = dataset_of<T>(std::move(name), std::move(shape), chunk_rows, level);
  out.raw_bytes = static_cast<int64_t>(values.size() * sizeof(T));
  if (values.empty()) return out;  // written as an empty contiguous dataset
  size_t chunk_bytes = out.chunk_rows * row_elements * sizeof(T);
  const auto* data = reinterpret_cast<const uint8_t*>(values.data());
  for (int64_t r = 0; r < rows; r += out.chunk_rows) {
    // Edge chunks are stored full size, zero padded, as HDF5 does.
    size_t used = std::min<int64_t>(out.chunk_rows, rows - r) * row_elements * sizeof(T);
    std::vector<uint8_t> chunk =
        encode_chunk(data + r * row_elements * sizeof(T), used, chunk_bytes, sizeof(T), level);
    out.stored_bytes += static_cast<int64_t>(chunk.size());
    out.chunks.push_back(std::move(chunk));
  }
  return out;
}

template <typename T>
EncodedDataset chunked_dataset(std::string name, std::vector<int64_t> shape, int64_t chunk_rows,
                               int level) {
  EncodedDataset out = dataset_of<T>(std::move(name), std::move(shape), chunk_rows, level);
  out.raw_bytes = static_cast<int64_t>(sizeof(T));
  for (int64_t d : out.shape) out.raw_bytes *= d;
  out.chunks_follow = true;
  return out;
}

template EncodedDataset chunked_dataset<int8_t>(std::string, std::vector<int64_t>, int64_t, int);
template EncodedDataset chunked_dataset<float>(std::string, std::vector<int64_t>, int64_t, int);

template EncodedDataset encode_dataset<int8_t>(std::string, const std::vector<int8_t>&,
                                               std::vector<int64_t>, int64_t, int);

template EncodedDataset encode_dataset<uint8_t>(std::string, const std::vector<uint8_t>&,
                                                std::vector<int64_t>, int64_t, int);
template EncodedDataset encode_dataset<int32_t>(std::string, const std::vector<int32_t>&,
                                                std::vector<int64_t>, int64_t, int);
template EncodedDataset encode_dataset<int64_t>(std::string, const std::vector<int64_t>&,
                                                std::vector<int64_t>, int64_t, int);
template EncodedDataset encode_dataset<float>(std::string, const std::vector<float>&,
                                              std::vector<int64_t>, int64_t, int);
template EncodedDataset encode_dataset<double>(std::string, const std::vector<double>&,
                                               std::vector<int64_t>, int64_t, int);

void write_encoded(hid_t parent, const EncodedDataset& dataset) {
  h5::Guard guard;  // one dataset is written as a unit
  std::vector<hsize_t> dims(dataset.shape.begin(), dataset.shape.end());
  h5::Handle space(GST_H5(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr)));
  h5::Handle dcpl(GST_H5(H5Pcreate(H5P_DATASET_CREATE)));
  GST_H5(H5Pset_obj_track_times(dcpl, 0));  // no timestamps: same input, same bytes
  bool empty = dataset.chunks.empty() && !dataset.chunks_follow;
  if (!empty) {
    std::vector<hsize_t> chunk = dims;
    chunk[0] = dataset.chunk_rows;
    GST_H5(H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data()));
    if (dataset.level > 0) {
      if (dataset.element_size > 1) GST_H5(H5Pset_shuffle(dcpl));
      GST_H5(H5Pset_deflate(dcpl, dataset.level));
    }
    // Chunks arrive complete: skip HDF5's fill of newly allocated space.
    GST_H5(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
  }
  h5::Handle handle(GST_H5(H5Dcreate2(parent, dataset.name.c_str(), dataset.type(), space,
                                      H5P_DEFAULT, dcpl, H5P_DEFAULT)));
  std::vector<h5::ChunkPlace> places;
  for (size_t i = 0; i < dataset.chunks.size(); ++i)
    places.push_back(write_chunk(handle, static_cast<int>(dims.size()), dataset.chunk_rows,
                                 static_cast<int64_t>(i), dataset.chunks[i]));
  if (!dataset.chunk_places || dataset.chunks_follow || empty) return;
  h5::Handle table = create_chunk_places(parent, dataset.name, static_cast<int64_t>(places.size()));
  if (!write_chunk_places(table, 0, places))
    GST_H5(H5Ldelete(parent, schema::chunk_places_name(dataset.name).c_str(), H5P_DEFAULT));
}

h5::ChunkPlace write_chunk(hid_t dataset, int rank, int64_t chunk_rows, int64_t index,
                           const std::vector<uint8_t>& bytes) {
  const std::vector<hsize_t> offset = chunk_origin(rank, chunk_rows, index);
  h5::Guard guard;
  h5::RawWriteLog log;
  GST_H5(H5Dwrite_chunk(dataset, H5P_DEFAULT, 0, offset.data(), bytes.size(), bytes.data()));
  const auto& writes = log.writes();
  return writes.size() == 1 && writes[0].bytes == bytes.size() ? writes[0] : h5::ChunkPlace{};
}

h5::Handle create_chunk_places(hid_t parent, const std::string& name, int64_t chunks) {
  h5::Guard guard;
  hsize_t dims[2] = {static_cast<hsize_t>(chunks), 2};
  h5::Handle space(GST_H5(H5Screate_simple(2, dims, nullptr)));
  h5::Handle dcpl(GST_H5(H5Pcreate(H5P_DATASET_CREATE)));
  GST_H5(H5Pset_obj_track_times(dcpl, 0));
  GST_H5(H5Pset_layout(dcpl, H5D_CONTIGUOUS));  // read by file offset, outside HDF5
  GST_H5(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
  return h5::Handle(GST_H5(H5Dcreate2(parent, schema::chunk_places_name(name).c_str(),
                                      H5T_STD_U64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)));
}

bool write_chunk_places(hid_t table, int64_t first, const std::vector<h5::ChunkPlace>& places) {
  std::vector<uint64_t> values;
  for (const h5::ChunkPlace& p : places) {
    if (p.bytes == 0) return false;
    values.push_back(p.offset);
    values.push_back(p.bytes);
  }
  if (places.empty()) return true;
  h5::Guard guard;
  h5::Handle file_space(GST_H5(H5Dget_space(table)));
  hsize_t start[2] = {static_cast<hsize_t>(first), 0}, count[2] = {places.size(), 2};
  GST_H5(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, count, nullptr));
  h5::Handle memory_space(GST_H5(H5Screate_simple(2, count, nullptr)));
  GST_H5(H5Dwrite(table, H5T_NATIVE_UINT64, memory_space, file_space, H5P_DEFAULT, values.data()));
  return true;
}

std::vector<uint8_t> decode_chunk(const std::vector<uint8_t>& chunk, size_t element_size,
                                  size_t raw_size, int level) {
  if (level == 0) return chunk;
  std::vector<uint8_t> raw(raw_size);
  const std::string problem =
      chunk_deflate().decompress(chunk.data(), chunk.size(), raw.data(), raw_size);
  if (!problem.empty()) fail("deflated chunk is corrupt: {}", problem);
  if (element_size == 1) return raw;
  std::vector<uint8_t> out(raw_size);
  unshuffle(raw.data(), raw_size, element_size, out.data());
  return out;
}

namespace {

// How a dataset's chunks are stored, read once per dataset.
struct ChunkLayout {
  bool direct = false;  // chunked, gst's filters, native element type (or int8 read as float)
  bool shuffle = false, deflate = false;
  bool int8_codes = false;  // stored int8, read as float (narrow_to_int8)
  size_t stored_size = 0;   // bytes of a stored element
  std::vector<int64_t> shape, chunk;
  int64_t row_elements = 1;
};

template <typename T>
ChunkLayout chunk_layout(hid_t dataset) {
  ChunkLayout out;
  out.shape = h5::dataset_shape(dataset);
  for (size_t d = 1; d < out.shape.size(); ++d) out.row_elements *= out.shape[d];
  h5::Handle dcpl(GST_H5(H5Dget_create_plist(dataset)));
  h5::Handle stored(GST_H5(H5Dget_type(dataset)));
  if (GST_H5(H5Pget_layout(dcpl)) != H5D_CHUNKED) return out;
  out.stored_size = sizeof(T);
  if (GST_H5(H5Tequal(stored, h5::native_type<T>())) <= 0) {
    out.int8_codes = std::is_same_v<T, float> && GST_H5(H5Tequal(stored, H5T_NATIVE_INT8)) > 0;
    if (!out.int8_codes) return out;
    out.stored_size = 1;
  }
  std::vector<hsize_t> chunk(out.shape.size());
  GST_H5(H5Pget_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data()));
  out.chunk.assign(chunk.begin(), chunk.end());
  for (size_t d = 1; d < chunk.size(); ++d)
    if (out.chunk[d] != out.shape[d]) return out;  // gst chunks along dimension 0 only
  int filters = GST_H5(H5Pget_nfilters(dcpl));
  for (int i = 0; i < filters; ++i) {
    unsigned flags = 0;
    size_t nvalues = 0;
    H5Z_filter_t id =
        GST_H5(H5Pget_filter2(dcpl, i, &flags, &nvalues, nullptr, 0, nullptr, nullptr));
    if (id == H5Z_FILTER_SHUFFLE && i == 0)
      out.shuffle = true;
    else if (id == H5Z_FILTER_DEFLATE && i == filters - 1)
      out.deflate = true;
    else
      return out;
  }
  out.direct = true;
  return out;
}

// Scratch for reading chunks, one per thread: a step reads every array of its segments, and
// fresh buffers of their size cost more in page faults and zero fills than inflating them.
struct ChunkBuffers {
  std::vector<uint8_t> stored, inflated, unshuffled;

  static ChunkBuffers& of_this_thread() {
    thread_local ChunkBuffers buffers;
    return buffers;
  }
  // Keeps small buffers for the next read; gives back what a rare huge array needed.
  void release_if_large() {
    constexpr size_t kKeep = 16 << 20;
    for (auto* v : {&stored, &inflated, &unshuffled})
      if (v->capacity() > kKeep) std::vector<uint8_t>().swap(*v);
  }
};

// Decodes the stored bytes of chunk `index`; the result stays valid until the thread's next
// decode.
const uint8_t* decode_stored(const ChunkLayout& layout, const uint8_t* bytes, size_t stored,
                             uint32_t mask, int64_t index) {
  ChunkBuffers& buffers = ChunkBuffers::of_this_thread();
  const size_t element_size = layout.stored_size;
  size_t chunk_bytes = layout.chunk[0] * layout.row_elements * element_size;
  bool deflated = layout.deflate && !(mask & (1u << (layout.shuffle ? 1 : 0)));
  bool shuffled = layout.shuffle && !(mask & 1u) && element_size > 1;
  if (deflated) {
    buffers.inflated.resize(chunk_bytes);
    const std::string problem =
        chunk_deflate().decompress(bytes, stored, buffers.inflated.data(), chunk_bytes);
    if (!problem.empty()) throw h5::Failure(fmt::format("chunk {} is corrupt: {}", index, problem));
    bytes = buffers.inflated.data();
  } else if (stored != chunk_bytes) {
    throw h5::Failure(
        fmt::format("chunk {} has {} bytes, expected {}", index, stored, chunk_bytes));
  }
  if (shuffled) {
    buffers.unshuffled.resize(chunk_bytes);
    unshuffle(bytes, chunk_bytes, element_size, buffers.unshuffled.data());
    bytes = buffers.unshuffled.data();
  }
  return bytes;
}

// Reads chunk `index` (along dimension 0) and decodes it, as decode_stored.
const uint8_t* read_chunk(hid_t dataset, const ChunkLayout& layout, int64_t index) {
  ChunkBuffers& buffers = ChunkBuffers::of_this_thread();
  const std::vector<hsize_t> offset =
      chunk_origin(static_cast<int>(layout.shape.size()), layout.chunk[0], index);
  hsize_t stored = 0;
  GST_H5(H5Dget_chunk_storage_size(dataset, offset.data(), &stored));
  buffers.stored.resize(stored);
  uint32_t mask = 0;
  GST_H5(H5Dread_chunk(dataset, H5P_DEFAULT, offset.data(), &mask, buffers.stored.data()));
  return decode_stored(layout, buffers.stored.data(), stored, mask, index);
}

// A little-endian u64 at p.
uint64_t load_u64le(const uint8_t* p) {
  uint64_t v = 0;
  for (int k = 7; k >= 0; --k) v = (v << 8) | p[k];
  return v;
}

// Reads `size` bytes at `offset` of fd, outside HDF5; a short read is a damaged file.
void read_exactly(int fd, uint64_t offset, size_t size, uint8_t* out, const std::string& what) {
  const ssize_t n = h5::pread_fully(fd, offset, size, out);
  if (n != static_cast<ssize_t>(size))
    throw h5::Failure(fmt::format("reading {} ({} bytes at offset {}) failed: {}", what, size,
                                  offset, n < 0 ? std::strerror(errno) : "end of file"));
}

// Reads each range into its buffer (sized already): while the page cache holds them, at once
// with a non-blocking read (a step re-reading its chunks pays one call each); from the first miss
// on, the rest are asked of the disk together and then waited for, so a cold file costs one
// round of disk reads, not one per range. what(i) names range i in errors.
template <typename Name>
void read_ranges(int fd, const std::vector<h5::ChunkPlace>& ranges,
                 std::vector<std::vector<uint8_t>>& out, Name&& what) {
  size_t first_miss = ranges.size();
  for (size_t i = 0; i < ranges.size() && first_miss == ranges.size(); ++i) {
    iovec to{out[i].data(), out[i].size()};
    if (::preadv2(fd, &to, 1, static_cast<off_t>(ranges[i].offset), RWF_NOWAIT) !=
        static_cast<ssize_t>(out[i].size()))
      first_miss = i;
  }
  for (size_t i = first_miss; i < ranges.size(); ++i)  // a hint: a failure costs only speed
    (void)::posix_fadvise(fd, static_cast<off_t>(ranges[i].offset),
                          static_cast<off_t>(ranges[i].bytes), POSIX_FADV_WILLNEED);
  for (size_t i = first_miss; i < ranges.size(); ++i)
    read_exactly(fd, ranges[i].offset, out[i].size(), out[i].data(), what(i));
}

// Where dataset `<name>_chunks` (create_chunk_places) of a dataset of `total` chunks lies.
struct PlacesTable {
  std::string name;
  int fd = -1;  // -1: there is none, or its file is not read through POSIX calls
  uint64_t offset = 0;
};

// Throws Failure when the table is not what create_chunk_places makes.
PlacesTable find_places(hid_t parent, const char* name, int64_t total) {
  h5::Guard guard;
  PlacesTable out{schema::chunk_places_name(name)};
  if (GST_H5(H5Lexists(parent, out.name.c_str(), H5P_DEFAULT)) <= 0) return out;
  h5::Handle places(GST_H5(H5Dopen2(parent, out.name.c_str(), H5P_DEFAULT)));
  h5::Handle dcpl(GST_H5(H5Dget_create_plist(places)));
  h5::Handle type(GST_H5(H5Dget_type(places)));
  const haddr_t at = H5Dget_offset(places);
  if (GST_H5(H5Pget_layout(dcpl)) != H5D_CONTIGUOUS || GST_H5(H5Tequal(type, H5T_STD_U64LE)) <= 0 ||
      h5::dataset_shape(places) != std::vector<int64_t>{total, 2} || at == HADDR_UNDEF)
    throw h5::Failure(
        fmt::format("dataset '{}' is not [{}, 2] u64 contiguous data", out.name, total));
  h5::Handle file(GST_H5(H5Iget_file_id(places)));
  h5::Handle fcpl(GST_H5(H5Fget_create_plist(file)));
  hsize_t user_block = 0;
  GST_H5(H5Pget_userblock(fcpl, &user_block));
  out.offset = at + user_block;
  out.fd = h5::file_descriptor(places);
  return out;
}

int64_t chunk_count(const ChunkLayout& layout) {
  return (layout.shape[0] + layout.chunk[0] - 1) / layout.chunk[0];
}

// The stored bytes of `chunks` (ascending) of dataset `name`, found through its places table:
// two rounds of reads (the chunks' places, then the chunks) however many chunks and configs,
// outside the HDF5 lock. Empty when there is no table to use.
std::vector<std::vector<uint8_t>> read_placed_chunks(hid_t parent, const char* name,
                                                     const ChunkLayout& layout,
                                                     const std::vector<int64_t>& chunks) {
  const PlacesTable table = find_places(parent, name, chunk_count(layout));
  struct stat info {};
  if (table.fd < 0 || ::fstat(table.fd, &info) != 0) return {};
  const auto file_bytes = static_cast<uint64_t>(info.st_size);
  std::vector<h5::ChunkPlace> entries, places;
  for (int64_t c : chunks) entries.push_back({table.offset + 16 * c, 16});
  std::vector<std::vector<uint8_t>> bytes(chunks.size(), std::vector<uint8_t>(16));
  read_ranges(table.fd, entries, bytes, [&](size_t) { return table.name; });
  // A deflated chunk is never much longer than its raw bytes.
  const uint64_t raw = layout.chunk[0] * layout.row_elements * layout.stored_size;
  const uint64_t longest = raw + raw / 8 + 1024;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const h5::ChunkPlace p{load_u64le(bytes[i].data()), load_u64le(bytes[i].data() + 8)};
    if (p.bytes == 0 || p.bytes > longest || p.offset > file_bytes ||
        p.bytes > file_bytes - p.offset)
      throw h5::Failure(fmt::format(
          "dataset '{}' places chunk {} at offset {} ({} bytes): not a chunk of at most {} bytes "
          "inside the file's {}",
          table.name, chunks[i], p.offset, p.bytes, longest, file_bytes));
    places.push_back(p);
    bytes[i].resize(p.bytes);
  }
  read_ranges(table.fd, places, bytes,
              [&](size_t i) { return fmt::format("chunk {} of '{}'", chunks[i], name); });
  return bytes;
}

// `count` values of a decoded chunk into out, widening int8 codes.
template <typename T>
void copy_values(const ChunkLayout& layout, const uint8_t* from, size_t count, T* out) {
  if (!layout.int8_codes) {
    std::memcpy(out, from, count * sizeof(T));
    return;
  }
  const auto* codes = reinterpret_cast<const int8_t*>(from);
  for (size_t i = 0; i < count; ++i) out[i] = static_cast<T>(codes[i]);
}

template <typename T>
std::vector<T> read_rows_unnamed(hid_t parent, const char* name, const std::vector<int64_t>& rows,
                                 std::vector<int64_t>* shape) {
  h5::Handle dataset(GST_H5(H5Dopen2(parent, name, H5P_DEFAULT)));
  ChunkLayout layout = chunk_layout<T>(dataset);
  if (shape) *shape = layout.shape;
  const int64_t total_rows = layout.shape.empty() ? 1 : layout.shape[0];
  const size_t row_bytes = layout.row_elements * sizeof(T);
  for (int64_t r : rows)
    if (r < 0 || r >= total_rows)
      fail("HDF5 dataset {} has no row {} (of {})", name, r, total_rows);
  std::vector<T> out(rows.size() * layout.row_elements);
  if (out.empty()) return out;
  if (!layout.direct) {  // not written by gst: let HDF5 read and convert everything
    std::vector<T> all(total_rows * layout.row_elements);
    GST_H5(H5Dread(dataset, h5::native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, all.data()));
    for (size_t i = 0; i < rows.size(); ++i)
      std::memcpy(&out[i * layout.row_elements], &all[rows[i] * layout.row_elements], row_bytes);
    return out;
  }
  // Each needed chunk is read and decoded once, then its rows copied out.
  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rows[a] < rows[b]; });
  std::vector<int64_t> chunks;
  for (size_t i : order)
    if (chunks.empty() || chunks.back() != rows[i] / layout.chunk[0])
      chunks.push_back(rows[i] / layout.chunk[0]);
  std::vector<std::vector<uint8_t>> placed = read_placed_chunks(parent, name, layout, chunks);
  size_t next = 0;
  for (size_t c = 0; c < chunks.size(); ++c) {
    const uint8_t* decoded =
        placed.empty() ? read_chunk(dataset, layout, chunks[c])
                       : decode_stored(layout, placed[c].data(), placed[c].size(), 0, chunks[c]);
    for (; next < order.size() && rows[order[next]] / layout.chunk[0] == chunks[c]; ++next) {
      const size_t i = order[next];
      const int64_t row = rows[i] - chunks[c] * layout.chunk[0];
      copy_values(layout, decoded + row * layout.row_elements * layout.stored_size,
                  layout.row_elements, &out[i * layout.row_elements]);
    }
  }
  ChunkBuffers::of_this_thread().release_if_large();
  return out;
}

template <typename T>
std::vector<T> read_all_unnamed(hid_t parent, const char* name, std::vector<int64_t>* shape) {
  h5::Handle dataset(GST_H5(H5Dopen2(parent, name, H5P_DEFAULT)));
  ChunkLayout layout = chunk_layout<T>(dataset);
  if (shape) *shape = layout.shape;
  int64_t count = layout.row_elements * (layout.shape.empty() ? 1 : layout.shape[0]);
  std::vector<T> out(count);
  if (count == 0) return out;
  if (!layout.direct) {
    GST_H5(H5Dread(dataset, h5::native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()));
    return out;
  }
  const int64_t rows = layout.shape[0];
  for (int64_t c = 0; c * layout.chunk[0] < rows; ++c) {
    const uint8_t* decoded = read_chunk(dataset, layout, c);
    int64_t first = c * layout.chunk[0], n = std::min(layout.chunk[0], rows - first);
    copy_values(layout, decoded, n * layout.row_elements, &out[first * layout.row_elements]);
  }
  ChunkBuffers::of_this_thread().release_if_large();
  return out;
}

std::string dataset_object(const char* name) { return fmt::format("dataset '{}'", name); }

}  // namespace

template <typename T>
std::vector<T> read_rows_direct(hid_t parent, const char* name, const std::vector<int64_t>& rows,
                                std::vector<int64_t>* shape) {
  return h5::on_object(dataset_object(name),
                       [&] { return read_rows_unnamed<T>(parent, name, rows, shape); });
}

template <typename T>
std::vector<T> read_direct(hid_t parent, const char* name, std::vector<int64_t>* shape) {
  return h5::on_object(dataset_object(name),
                       [&] { return read_all_unnamed<T>(parent, name, shape); });
}

std::string check_chunk_places(hid_t parent, const char* name) {
  return h5::on_object(dataset_object(name), [&]() -> std::string {
    h5::Handle dataset(GST_H5(H5Dopen2(parent, name, H5P_DEFAULT)));
    const ChunkLayout layout = chunk_layout<float>(dataset);
    if (!layout.direct) return "";
    const int64_t total = chunk_count(layout);
    const PlacesTable table = find_places(parent, name, total);
    if (table.fd < 0) return "";
    const std::vector<int64_t> places = h5::read_all<int64_t>(parent, table.name);
    for (int64_t c = 0; c < total; ++c) {
      const std::vector<hsize_t> offset =
          chunk_origin(static_cast<int>(layout.shape.size()), layout.chunk[0], c);
      const h5::ChunkPlace indexed = h5::locate_chunk(dataset, offset.data());
      const auto at = static_cast<uint64_t>(places[2 * c]),
                 bytes = static_cast<uint64_t>(places[2 * c + 1]);
      if (at != indexed.offset || bytes != indexed.bytes)
        return fmt::format(
            "{} places chunk {} at offset {} ({} bytes), HDF5's chunk index at offset {} ({} "
            "bytes)",
            table.name, c, at, bytes, indexed.offset, indexed.bytes);
    }
    return "";
  });
}

#define GST_READ_DIRECT(T)                                                                     \
  template std::vector<T> read_direct<T>(hid_t, const char*, std::vector<int64_t>*);           \
  template std::vector<T> read_rows_direct<T>(hid_t, const char*, const std::vector<int64_t>&, \
                                              std::vector<int64_t>*);
GST_READ_DIRECT(uint8_t)
GST_READ_DIRECT(int32_t)
GST_READ_DIRECT(int64_t)
GST_READ_DIRECT(float)
GST_READ_DIRECT(double)
#undef GST_READ_DIRECT

}  // namespace gst
