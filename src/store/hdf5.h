// Checked, serialized access to the HDF5 C library: one global lock, RAII handles, error stacks.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "common/errors.h"

namespace gst::h5 {

// A failed HDF5 call (with HDF5's error stack) or stored data that is not what gst wrote. Readers
// of a file turn it into an InputError that names the file and what to do about it.
class Failure : public Error {
 public:
  using Error::Error;
};

// Runs `body`; a Failure inside it is thrown again with `object` (e.g. "attribute 'format'") in
// front, so the message says which object of the file could not be read.
template <typename F>
auto on_object(const std::string& object, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Failure& e) {
    throw Failure(object + ": " + e.what());
  }
}

// The Debian HDF5 build must not be entered from two threads at once: every call holds this lock.
std::recursive_mutex& lock();

// Holds lock() and turns off HDF5's own error printing for this thread (gst reports the stack in
// its exceptions; thread-safe HDF5 builds keep that setting per thread).
class Guard {
 public:
  Guard();

 private:
  std::lock_guard<std::recursive_mutex> guard_;
};

// Throws Failure naming the HDF5 function and its error stack when `status` < 0. The call's full
// text and its source file:line go to the debug log only: the message is for users, and __FILE__
// would show the paths of the machine that built gst. Must be called with lock() held (the stack
// belongs to the failing call).
void throw_if_failed(int64_t status, const char* call, const char* file, int line);

// Runs `call` under the lock and checks its result (herr_t, hid_t, htri_t, ...).
template <typename F>
auto checked(F&& call, const char* text, const char* file, int line) {
  Guard guard;
  auto result = call();
  throw_if_failed(static_cast<int64_t>(result), text, file, line);
  return result;
}

// An owned HDF5 identifier (file, group, dataset, dataspace, property list, attribute, type).
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  ~Handle() { reset(); }
  Handle(Handle&& other) noexcept : id_(other.id_) { other.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }  // NOLINT: handles pass straight into H5 calls
  bool valid() const { return id_ >= 0; }
  void reset();
  // Closes now and reports a failed close (a file close flushes, so this is where a full disk
  // shows up); the destructor ignores close errors.
  void close_checked();

 private:
  hid_t id_ = H5I_INVALID_HID;
};

}  // namespace gst::h5

// Checked HDF5 call: `GST_H5(H5Dread(...))` returns the call's result or throws.
#define GST_H5(call) ::gst::h5::checked([&] { return (call); }, #call, __FILE__, __LINE__)

namespace gst::h5 {

// Small typed helpers used by the shard writer, the reader and verify.
Handle create_file(const std::string& path);     // truncates
Handle open_file_read(const std::string& path);  // read-only
Handle create_group(hid_t parent, const std::string& name);
Handle open_group(hid_t parent, const std::string& name);
bool exists(hid_t parent, const std::string& name);

void write_attr_int(hid_t object, const std::string& name, int64_t value);
void write_attr_string(hid_t object, const std::string& name, const std::string& value);
int64_t read_attr_int(hid_t object, const std::string& name);
std::string read_attr_string(hid_t object, const std::string& name);

// Element type of a stored array.
template <typename T>
hid_t native_type();

// The shape of a dataset.
std::vector<int64_t> dataset_shape(hid_t dataset);

// Reads a whole dataset of `name`, checking its rank and element count against the shape read.
template <typename T>
std::vector<T> read_all(hid_t parent, const std::string& name,
                        std::vector<int64_t>* shape = nullptr);

}  // namespace gst::h5
