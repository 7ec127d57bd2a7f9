// Arrays pre-encoded into HDF5 chunks (shuffle + deflate) off the HDF5 lock, then written raw.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

#include "store/file_driver.h"
#include "store/hdf5.h"

namespace gst {

// One dataset ready to be written: chunked along dimension 0, each chunk already passed through
// the same filters HDF5 would apply (byte shuffle, then zlib deflate), so writing it is pure I/O
// and any HDF5 reader (h5py included) decodes it with the standard filters.
struct EncodedDataset {
  std::string name;
  hid_t (*type)() = nullptr;  // native HDF5 element type, resolved under the HDF5 lock
  size_t element_size = 0;
  std::vector<int64_t> shape;
  int64_t chunk_rows = 0;  // rows of dimension 0 per chunk
  int level = 0;           // deflate level; 0 stores chunks unfiltered
  std::vector<std::vector<uint8_t>> chunks;
  // The dataset is created chunked and empty; its chunks are written later with write_chunk
  // (config_feat of a graph streamed a block of configs at a time).
  bool chunks_follow = false;
  // Where its chunks landed is written beside it (create_chunk_places): datasets read a few
  // rows at a time (layout config_feat).
  bool chunk_places = false;
  int64_t raw_bytes = 0;
  int64_t stored_bytes = 0;
};

// Encodes values (C order, `shape`) into chunks of `chunk_rows` rows (<= 0: one chunk).
template <typename T>
EncodedDataset encode_dataset(std::string name, const std::vector<T>& values,
                              std::vector<int64_t> shape, int64_t chunk_rows, int level);

// A dataset of `shape` created now and filled later, chunk by chunk (chunks_follow), with the
// chunk rows and filters encode_dataset would give it.
template <typename T>
EncodedDataset chunked_dataset(std::string name, std::vector<int64_t> shape, int64_t chunk_rows,
                               int level);

// Encodes one chunk of `chunk_bytes` from `used` bytes at data (the rest zero padded, as HDF5
// stores edge chunks): byte shuffle for elements wider than a byte, then deflate at `level`.
std::vector<uint8_t> encode_chunk(const uint8_t* data, size_t used, size_t chunk_bytes,
                                  size_t element_size, int level);

// Float values that are all integers in [-128, 127] (layout config_feat: dimension indices and
// -1) are stored as int8: a quarter of the bytes to deflate, write and read. Writes `count` codes
// to `out` and returns true when every value round-trips bit for bit; false otherwise (out then
// holds garbage). read_direct<float> and read_rows_direct<float> widen such datasets back.
bool narrow_to_int8(const float* values, size_t count, int8_t* out);

// Creates the dataset under `parent` with matching chunk/filter properties and writes its chunks.
void write_encoded(hid_t parent, const EncodedDataset& dataset);

// Writes encoded chunk `index` (along dimension 0) of a chunked dataset of rank `rank`; returns
// where it landed ({0, 0} in a file not written through gst's driver).
h5::ChunkPlace write_chunk(hid_t dataset, int rank, int64_t chunk_rows, int64_t index,
                           const std::vector<uint8_t>& bytes);

// Creates dataset `<name>_chunks` [chunks, 2] u64 (file offset, stored bytes of each chunk of
// dataset `name`, in chunk order) beside dataset `name`, contiguous, so that a reader of a few
// rows finds their chunks in one round of reads instead of one chunk-index page and one chunk
// after another (read_rows_direct). Fill it with write_chunk_places.
h5::Handle create_chunk_places(hid_t parent, const std::string& name, int64_t chunks);

// Writes `places` as rows [first, first + places.size()) of such a table. Returns false, writing
// nothing, when a place is not known: the caller then unlinks the table and readers use HDF5's
// index.
bool write_chunk_places(hid_t table, int64_t first, const std::vector<h5::ChunkPlace>& places);

// Reads a whole dataset written by write_encoded: its stored chunks are fetched raw
// (H5Dread_chunk) and decoded here, outside the HDF5 lock and without HDF5's selection
// machinery; int8 datasets read as float are widened here too. Datasets of another layout or
// type fall back to H5Dread (with HDF5's conversion). shape: optional output.
template <typename T>
std::vector<T> read_direct(hid_t parent, const char* name, std::vector<int64_t>* shape = nullptr);

// Rows of dimension 0 (any order, repeats allowed) of such a dataset: only the chunks holding
// them are read, through `<name>_chunks` when the dataset has one (all at once, outside the HDF5
// lock). Returns [rows.size(), ...] in the order asked.
template <typename T>
std::vector<T> read_rows_direct(hid_t parent, const char* name, const std::vector<int64_t>& rows,
                                std::vector<int64_t>* shape = nullptr);

// Checks dataset `<name>_chunks` (create_chunk_places) against HDF5's own chunk index of `name`,
// chunk by chunk: what is wrong, or empty (also when there is no such table).
std::string check_chunk_places(hid_t parent, const char* name);

// The inverse of the chunk filters: inflate then unshuffle one encoded chunk.
std::vector<uint8_t> decode_chunk(const std::vector<uint8_t>& chunk, size_t element_size,
                                  size_t raw_size, int level);

}  // namespace gst
