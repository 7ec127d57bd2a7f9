#include "store/chunk_codec.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "common/errors.h"
#include "store/hdf5.h"

namespace gst {
namespace {

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

std::vector<uint8_t> unshuffle(const uint8_t* data, size_t bytes, size_t element_size) {
  std::vector<uint8_t> out(bytes);
  size_t n = bytes / element_size;
  for (size_t k = 0; k < element_size; ++k) {
    const uint8_t* plane = data + k * n;
    for (size_t i = 0; i < n; ++i) out[i * element_size + k] = plane[i];
  }
  return out;
}

// HDF5's deflate filter stores a zlib stream (compress2 output).
std::vector<uint8_t> deflate_bytes(const std::vector<uint8_t>& in, int level) {
  uLongf size = compressBound(in.size());
  std::vector<uint8_t> out(size);
  int rc = compress2(out.data(), &size, in.data(), in.size(), level);
  if (rc != Z_OK) fail("zlib compress2 failed with code {} on {} bytes", rc, in.size());
  out.resize(size);
  return out;
}

template <typename T>
hid_t type_of() {
  return h5::native_type<T>();
}

}  // namespace

template <typename T>
EncodedDataset encode_dataset(std::string name, const std::vector<T>& values,
                              std::vector<int64_t> shape, int64_t chunk_rows, int level) {
  EncodedDataset out;
  out.name = std::move(name);
  out.type = &type_of<T>;
  out.element_size = sizeof(T);
  out.level = level;
  int64_t rows = shape.empty() ? 1 : shape[0];
  int64_t row_elements = 1;
  for (size_t d = 1; d < shape.size(); ++d) row_elements *= shape[d];
  GST_CHECK(static_cast<int64_t>(values.size()) == rows * row_elements,
            "dataset {}: {} values for its shape", out.name, values.size());
  out.shape = std::move(shape);
  out.chunk_rows =
      std::clamp<int64_t>(chunk_rows <= 0 ? rows : chunk_rows, 1, std::max<int64_t>(rows, 1));
  out.raw_bytes = static_cast<int64_t>(values.size() * sizeof(T));
  if (values.empty()) return out;  // written as an empty contiguous dataset
  size_t chunk_bytes = out.chunk_rows * row_elements * sizeof(T);
  const auto* data = reinterpret_cast<const uint8_t*>(values.data());
  for (int64_t r = 0; r < rows; r += out.chunk_rows) {
    // Edge chunks are stored full size, zero padded, as HDF5 does.
    std::vector<uint8_t> chunk(chunk_bytes, 0);
    size_t used = std::min<int64_t>(out.chunk_rows, rows - r) * row_elements * sizeof(T);
    std::memcpy(chunk.data(), data + r * row_elements * sizeof(T), used);
    if (level > 0) {
      if (sizeof(T) > 1) chunk = shuffle(chunk.data(), chunk.size(), sizeof(T));
      chunk = deflate_bytes(chunk, level);
    }
    out.stored_bytes += static_cast<int64_t>(chunk.size());
    out.chunks.push_back(std::move(chunk));
  }
  return out;
}

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
  bool empty = dataset.chunks.empty();
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
  std::vector<hsize_t> offset(dims.size(), 0);
  for (size_t i = 0; i < dataset.chunks.size(); ++i) {
    offset[0] = i * dataset.chunk_rows;
    const auto& bytes = dataset.chunks[i];
    GST_H5(H5Dwrite_chunk(handle, H5P_DEFAULT, 0, offset.data(), bytes.size(), bytes.data()));
  }
}

std::vector<uint8_t> decode_chunk(const std::vector<uint8_t>& chunk, size_t element_size,
                                  size_t raw_size, int level) {
  if (level == 0) return chunk;
  std::vector<uint8_t> raw(raw_size);
  uLongf size = raw_size;
  int rc = uncompress(raw.data(), &size, chunk.data(), chunk.size());
  if (rc != Z_OK || size != raw_size) fail("zlib uncompress failed with code {}", rc);
  return element_size > 1 ? unshuffle(raw.data(), raw.size(), element_size) : raw;
}

}  // namespace gst
