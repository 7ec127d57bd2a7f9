// gst's HDF5 file driver: POSIX I/O like HDF5's default driver, able to report where chunks lie.
#pragma once

#include <hdf5.h>
#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace gst::h5 {

// Sets the driver on a file access property list (every shard file gst writes or reads).
void set_file_driver(hid_t fapl);

// Where one stored chunk lies in its file (bytes == 0: not known).
struct ChunkPlace {
  uint64_t offset = 0;
  uint64_t bytes = 0;
};

// While alive, records where this thread's raw-data writes through the driver go: the chunk that
// each H5Dwrite_chunk writes, in order.
class RawWriteLog {
 public:
  RawWriteLog();
  ~RawWriteLog();
  RawWriteLog(const RawWriteLog&) = delete;
  RawWriteLog& operator=(const RawWriteLog&) = delete;
  const std::vector<ChunkPlace>& writes() const { return writes_; }

 private:
  std::vector<ChunkPlace> writes_;
};

// Where HDF5's own chunk index puts the chunk at `offset` (one coordinate per dimension) of a
// dataset in a file opened through the driver; only the index is read. Throws Failure for a file
// opened otherwise.
ChunkPlace locate_chunk(hid_t dataset, const hsize_t* offset);

// pread until `size` bytes are in or the file ends (EINTR retried): the bytes read, or -1 with
// errno set.
ssize_t pread_fully(int fd, uint64_t offset, size_t size, uint8_t* out);

// The POSIX descriptor of the file holding `object` when gst's driver or HDF5's POSIX driver
// opened it, else -1.
int file_descriptor(hid_t object);

}  // namespace gst::h5
