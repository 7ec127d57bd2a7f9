#include "store/hdf5.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "store/file_driver.h"

namespace gst::h5 {
namespace {

// Collects the messages of the current error stack, innermost last.
herr_t collect_error(unsigned, const H5E_error2_t* err, void* data) {
  auto* text = static_cast<std::string*>(data);
  if (!text->empty()) *text += "; ";
  *text +=
      fmt::format("{}(): {}", err->func_name ? err->func_name : "?", err->desc ? err->desc : "?");
  return 0;
}

}  // namespace

std::recursive_mutex& lock() {
  static std::recursive_mutex mutex;
  return mutex;
}

Guard::Guard() : guard_(lock()) {
  thread_local bool quiet = false;
  if (!quiet) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    quiet = true;
  }
}

void throw_if_failed(int64_t status, const char* call, const char* file, int line) {
  if (status >= 0) return;
  std::string stack;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &stack);
  H5Eclear2(H5E_DEFAULT);
  spdlog::debug("HDF5 call {} failed at {}:{}", call, source_file_name(file), line);
  // The function's name without its arguments: the arguments are gst's source text.
  const std::string_view text(call);
  throw Failure(fmt::format("HDF5 call {}() failed: {}", text.substr(0, text.find('(')),
                            stack.empty() ? "no error stack" : stack));
}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Handle::reset() {
  if (id_ < 0) return;
  Guard guard;
  H5Idec_ref(id_);
  H5Eclear2(H5E_DEFAULT);
  id_ = H5I_INVALID_HID;
}

void Handle::close_checked() {
  if (id_ < 0) return;
  hid_t id = id_;
  id_ = H5I_INVALID_HID;
  Guard guard;
  if (H5Iget_type(id) == H5I_FILE) {
    herr_t flushed = H5Fflush(id, H5F_SCOPE_LOCAL);
    if (flushed < 0) {
      // Read the stack before the close below replaces it, then still release the file.
      try {
        throw_if_failed(flushed, "H5Fflush(file, H5F_SCOPE_LOCAL)", __FILE__, __LINE__);
      } catch (...) {
        H5Fclose(id);
        throw;
      }
    }
    GST_H5(H5Fclose(id));
  } else {
    GST_H5(H5Idec_ref(id));
  }
}

namespace {

Handle file_access_list() {
  Handle fapl(GST_H5(H5Pcreate(H5P_FILE_ACCESS)));
  // 1.10 file format: single-chunk and fixed-array chunk indexes instead of v1 B-trees (far
  // smaller for many small datasets); h5py built on HDF5 >= 1.10 reads it.
  GST_H5(H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110));
  set_file_driver(fapl);  // the writer learns where chunks land, verify checks it
  return fapl;
}

}  // namespace

Handle create_file(const std::string& path) {
  Handle fapl = file_access_list();
  Handle fcpl(GST_H5(H5Pcreate(H5P_FILE_CREATE)));
  GST_H5(H5Pset_obj_track_times(fcpl, 0));  // no timestamps: same input, same bytes
  return Handle(GST_H5(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl, fapl)));
}

Handle open_file_read(const std::string& path) {
  Handle fapl = file_access_list();
  return Handle(GST_H5(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl)));
}

namespace {

bool exists_unnamed(hid_t parent, const std::string& name) {
  // H5Lexists checks one path component at a time, so walk the path.
  std::string prefix;
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    if (slash == std::string::npos) slash = name.size();
    prefix += (prefix.empty() ? "" : "/") + name.substr(start, slash - start);
    if (GST_H5(H5Lexists(parent, prefix.c_str(), H5P_DEFAULT)) <= 0) return false;
    start = slash + 1;
  }
  return true;
}

}  // namespace

Handle create_group(hid_t parent, const std::string& name) {
  // Intermediate groups are created here rather than by HDF5, so none of them records times.
  Guard guard;
  Handle gcpl(GST_H5(H5Pcreate(H5P_GROUP_CREATE)));
  GST_H5(H5Pset_obj_track_times(gcpl, 0));
  for (size_t slash = name.find('/'); slash != std::string::npos;
       slash = name.find('/', slash + 1)) {
    std::string prefix = name.substr(0, slash);
    if (GST_H5(H5Lexists(parent, prefix.c_str(), H5P_DEFAULT)) <= 0)
      Handle(GST_H5(H5Gcreate2(parent, prefix.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT)));
  }
  return Handle(GST_H5(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT)));
}

Handle open_group(hid_t parent, const std::string& name) {
  return on_object(fmt::format("group '{}'", name),
                   [&] { return Handle(GST_H5(H5Gopen2(parent, name.c_str(), H5P_DEFAULT))); });
}

bool exists(hid_t parent, const std::string& name) {
  return on_object(fmt::format("link '{}'", name), [&] { return exists_unnamed(parent, name); });
}

void write_attr_int(hid_t object, const std::string& name, int64_t value) {
  Handle space(GST_H5(H5Screate(H5S_SCALAR)));
  Handle attr(
      GST_H5(H5Acreate2(object, name.c_str(), H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT)));
  GST_H5(H5Awrite(attr, H5T_NATIVE_INT64, &value));
}

void write_attr_string(hid_t object, const std::string& name, const std::string& value) {
  // Fixed-length UTF-8 strings: h5py reads them as bytes/str without variable-length machinery.
  Handle type(GST_H5(H5Tcopy(H5T_C_S1)));
  GST_H5(H5Tset_size(type, std::max<size_t>(value.size(), 1)));
  GST_H5(H5Tset_cset(type, H5T_CSET_UTF8));
  Handle space(GST_H5(H5Screate(H5S_SCALAR)));
  Handle attr(GST_H5(H5Acreate2(object, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT)));
  std::string padded = value.empty() ? std::string(1, '\0') : value;
  GST_H5(H5Awrite(attr, type, padded.data()));
}

namespace {

std::string attribute_object(const std::string& name) {
  return fmt::format("attribute '{}'", name);
}

}  // namespace

int64_t read_attr_int(hid_t object, const std::string& name) {
  return on_object(attribute_object(name), [&] {
    Handle attr(GST_H5(H5Aopen(object, name.c_str(), H5P_DEFAULT)));
    int64_t value = 0;
    GST_H5(H5Aread(attr, H5T_NATIVE_INT64, &value));
    return value;
  });
}

std::string read_attr_string(hid_t object, const std::string& name) {
  return on_object(attribute_object(name), [&] {
    Handle attr(GST_H5(H5Aopen(object, name.c_str(), H5P_DEFAULT)));
    Handle type(GST_H5(H5Aget_type(attr)));
    if (GST_H5(H5Tget_class(type)) != H5T_STRING || GST_H5(H5Tis_variable_str(type)) > 0)
      throw Failure("not a fixed-length string");
    size_t size = GST_H5(H5Tget_size(type));
    std::string value(size, '\0');
    GST_H5(H5Aread(attr, type, value.data()));
    value.resize(value.find('\0') == std::string::npos ? size : value.find('\0'));
    return value;
  });
}

template <>
hid_t native_type<int8_t>() {
  return H5T_NATIVE_INT8;
}
template <>
hid_t native_type<uint8_t>() {
  return H5T_NATIVE_UINT8;
}
template <>
hid_t native_type<int32_t>() {
  return H5T_NATIVE_INT32;
}
template <>
hid_t native_type<int64_t>() {
  return H5T_NATIVE_INT64;
}
template <>
hid_t native_type<float>() {
  return H5T_NATIVE_FLOAT;
}
template <>
hid_t native_type<double>() {
  return H5T_NATIVE_DOUBLE;
}

std::vector<int64_t> dataset_shape(hid_t dataset) {
  Handle space(GST_H5(H5Dget_space(dataset)));
  int rank = GST_H5(H5Sget_simple_extent_ndims(space));
  std::vector<hsize_t> dims(rank);
  GST_H5(H5Sget_simple_extent_dims(space, dims.data(), nullptr));
  return std::vector<int64_t>(dims.begin(), dims.end());
}

template <typename T>
std::vector<T> read_all(hid_t parent, const std::string& name, std::vector<int64_t>* shape) {
  return on_object(fmt::format("dataset '{}'", name), [&] {
    Handle dataset(GST_H5(H5Dopen2(parent, name.c_str(), H5P_DEFAULT)));
    std::vector<int64_t> dims = dataset_shape(dataset);
    int64_t count = 1;
    for (int64_t d : dims) count *= d;
    std::vector<T> values(count);
    if (count > 0)
      GST_H5(H5Dread(dataset, native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()));
    if (shape) *shape = dims;
    return values;
  });
}

#define GST_H5_INSTANTIATE(T) \
  template std::vector<T> read_all<T>(hid_t, const std::string&, std::vector<int64_t>*);
GST_H5_INSTANTIATE(uint8_t)
GST_H5_INSTANTIATE(int32_t)
GST_H5_INSTANTIATE(int64_t)
GST_H5_INSTANTIATE(float)
GST_H5_INSTANTIATE(double)
#undef GST_H5_INSTANTIATE

}  // namespace gst::h5
