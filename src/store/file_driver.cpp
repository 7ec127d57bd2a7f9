#include "store/file_driver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "store/hdf5.h"

namespace gst::h5 {
namespace {

// Raw-data reads are recorded here instead of performed (locate_chunk); raw-data writes are
// performed and recorded (RawWriteLog).
thread_local std::vector<ChunkPlace>* locating = nullptr;
thread_local std::vector<ChunkPlace>* write_log = nullptr;

// The driver's file: HDF5's public part first, as HDF5 requires.
struct DriverFile {
  H5FD_t base;
  int fd = -1;
  haddr_t eoa = 0, eof = 0;
  dev_t device = 0;
  ino_t inode = 0;
};

DriverFile* cast(H5FD_t* file) { return reinterpret_cast<DriverFile*>(file); }
const DriverFile* cast(const H5FD_t* file) { return reinterpret_cast<const DriverFile*>(file); }

// A driver reports failures on HDF5's error stack; gst's checked calls put that stack in their
// exceptions.
void push_error(const char* function, H5E_minor_t minor, const std::string& text) {
  H5Epush2(H5E_DEFAULT, "file_driver.cpp", function, __LINE__, H5E_ERR_CLS, H5E_VFL, minor, "%s",
           text.c_str());
}

std::string io_failure(const char* what, size_t size, haddr_t addr, int error) {
  return std::string(what) + " " + std::to_string(size) + " bytes at offset " +
         std::to_string(addr) + " failed: " + std::strerror(error);
}

H5FD_t* open_file(const char* name, unsigned flags, hid_t, haddr_t) {
  int mode = (flags & H5F_ACC_RDWR) ? O_RDWR : O_RDONLY;
  if (flags & H5F_ACC_TRUNC) mode |= O_TRUNC;
  if (flags & H5F_ACC_CREAT) mode |= O_CREAT;
  if (flags & H5F_ACC_EXCL) mode |= O_EXCL;
  int fd = ::open(name, mode | O_CLOEXEC, 0666);
  struct stat info {};
  if (fd < 0 || ::fstat(fd, &info) != 0) {
    const int error = errno;
    push_error("open_file", H5E_CANTOPENFILE,
               std::string("cannot open ") + name + ": " + std::strerror(error));
    if (fd >= 0) ::close(fd);
    return nullptr;
  }
  auto* file = new DriverFile{};
  file->fd = fd;
  file->eof = static_cast<haddr_t>(info.st_size);
  file->device = info.st_dev;
  file->inode = info.st_ino;
  return &file->base;
}

herr_t close_file(H5FD_t* base) {
  DriverFile* file = cast(base);
  int status = ::close(file->fd);
  int error = errno;
  delete file;
  if (status == 0) return 0;
  push_error("close_file", H5E_CANTCLOSEFILE, std::strerror(error));
  return -1;
}

// HDF5 orders open files to find one that is already open.
int compare_files(const H5FD_t* a, const H5FD_t* b) {
  const DriverFile *x = cast(a), *y = cast(b);
  if (x->device != y->device) return x->device < y->device ? -1 : 1;
  if (x->inode != y->inode) return x->inode < y->inode ? -1 : 1;
  return 0;
}

herr_t query(const H5FD_t*, unsigned long* flags) {
  if (flags)  // the features of HDF5's POSIX driver, so files come out byte for byte the same
    *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
             H5FD_FEAT_AGGREGATE_SMALLDATA | H5FD_FEAT_POSIX_COMPAT_HANDLE |
             H5FD_FEAT_DEFAULT_VFD_COMPATIBLE;
  return 0;
}

haddr_t get_eoa(const H5FD_t* file, H5FD_mem_t) { return cast(file)->eoa; }

herr_t set_eoa(H5FD_t* file, H5FD_mem_t, haddr_t addr) {
  cast(file)->eoa = addr;
  return 0;
}

haddr_t get_eof(const H5FD_t* file, H5FD_mem_t) { return cast(file)->eof; }

herr_t get_handle(H5FD_t* file, hid_t, void** handle) {
  *handle = &cast(file)->fd;
  return 0;
}

herr_t read(H5FD_t* base, H5FD_mem_t type, hid_t, haddr_t addr, size_t size, void* buffer) {
  if (locating != nullptr && type == H5FD_MEM_DRAW) {
    locating->push_back({addr, size});
    return 0;
  }
  auto* out = static_cast<uint8_t*>(buffer);
  const ssize_t n = pread_fully(cast(base)->fd, addr, size, out);
  if (n < 0) {
    push_error("read", H5E_READERROR, io_failure("reading", size, addr, errno));
    return -1;
  }
  // Past the end of the file reads as zeros, as with HDF5's POSIX driver.
  std::memset(out + n, 0, size - static_cast<size_t>(n));
  return 0;
}

herr_t write(H5FD_t* base, H5FD_mem_t type, hid_t, haddr_t addr, size_t size, const void* buffer) {
  DriverFile* file = cast(base);
  if (write_log != nullptr && type == H5FD_MEM_DRAW) write_log->push_back({addr, size});
  const auto* in = static_cast<const uint8_t*>(buffer);
  haddr_t at = addr;
  for (size_t left = size; left > 0;) {
    ssize_t n = ::pwrite(file->fd, in, left, static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      push_error("write", H5E_WRITEERROR, io_failure("writing", size, addr, errno));
      return -1;
    }
    in += n, at += n, left -= n;
  }
  if (at > file->eof) file->eof = at;
  return 0;
}

// At close HDF5 sets the file's length to what it allocated.
herr_t truncate(H5FD_t* base, hid_t, hbool_t) {
  DriverFile* file = cast(base);
  if (file->eoa == file->eof) return 0;
  if (::ftruncate(file->fd, static_cast<off_t>(file->eoa)) != 0) {
    const int error = errno;
    push_error("truncate", H5E_SEEKERROR,
               "setting the length to " + std::to_string(file->eoa) +
                   " bytes failed: " + std::strerror(error));
    return -1;
  }
  file->eof = file->eoa;
  return 0;
}

H5FD_class_t driver_class() {
  H5FD_class_t c{};
  c.name = "gst_posix";
  c.maxaddr = (haddr_t{1} << (8 * sizeof(off_t) - 1)) - 1;
  c.fc_degree = H5F_CLOSE_WEAK;
  c.open = open_file;
  c.close = close_file;
  c.cmp = compare_files;
  c.query = query;
  c.get_eoa = get_eoa;
  c.set_eoa = set_eoa;
  c.get_eof = get_eof;
  c.get_handle = get_handle;
  c.read = read;
  c.write = write;
  c.truncate = truncate;
  for (auto& type : c.fl_map) type = H5FD_MEM_DEFAULT;  // one free list, as the POSIX driver
  return c;
}

hid_t driver_id() {
  static const H5FD_class_t cls = driver_class();
  static const hid_t id = GST_H5(H5FDregister(&cls));
  return id;
}

}  // namespace

ssize_t pread_fully(int fd, uint64_t offset, size_t size, uint8_t* out) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, out + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

void set_file_driver(hid_t fapl) { GST_H5(H5Pset_driver(fapl, driver_id(), nullptr)); }

RawWriteLog::RawWriteLog() { write_log = &writes_; }
RawWriteLog::~RawWriteLog() { write_log = nullptr; }

ChunkPlace locate_chunk(hid_t dataset, const hsize_t* offset) {
  Guard guard;
  Handle file(GST_H5(H5Iget_file_id(dataset)));
  Handle fapl(GST_H5(H5Fget_access_plist(file)));
  if (GST_H5(H5Pget_driver(fapl)) != driver_id())
    throw Failure("locating a chunk needs the file opened through gst's file driver");
  std::vector<ChunkPlace> reads;
  locating = &reads;
  uint32_t mask = 0;
  uint8_t unused = 0;  // raw reads are only recorded: nothing is written here
  herr_t status = H5Dread_chunk(dataset, H5P_DEFAULT, offset, &mask, &unused);
  locating = nullptr;
  throw_if_failed(status, "H5Dread_chunk(dataset, offset)", __FILE__, __LINE__);
  if (reads.size() != 1) throw Failure("H5Dread_chunk did not read the chunk in one piece");
  return reads[0];
}

int file_descriptor(hid_t object) {
  Guard guard;
  Handle file(GST_H5(H5Iget_file_id(object)));
  Handle fapl(GST_H5(H5Fget_access_plist(file)));
  hid_t driver = GST_H5(H5Pget_driver(fapl));
  if (driver != driver_id() && driver != H5FD_SEC2) return -1;
  void* handle = nullptr;
  GST_H5(H5Fget_vfd_handle(file, H5P_DEFAULT, &handle));
  return *static_cast<int*>(handle);
}

}  // namespace gst::h5
