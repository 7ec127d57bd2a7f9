#include "data/npz.h"

#include <sys/mman.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <memory>
#include <type_traits>

#include "common/errors.h"

namespace gst {
namespace {

// The one checked-call helper for libzip: names the call, where it was made
// (source file name and line, no directories) and libzip's message. Reading
// failures are the input's fault (InputError); writing failures are system
// errors.
[[noreturn]] void zip_failure(const char* call, zip_error_t* error, const std::string& context,
                              bool input, const char* file, int line) {
  std::string message = fmt::format("{}: {} failed: {} ({}:{})", context, call,
                                    error ? zip_error_strerror(error) : "unknown error",
                                    source_file_name(file), line);
  if (input) throw InputError(message);
  throw Error(message);
}

#define GST_ZIP_CHECK(ok, call, error, context, input)                       \
  do {                                                                       \
    if (!(ok)) zip_failure(call, error, context, input, __FILE__, __LINE__); \
  } while (0)

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

DType parse_descr(const std::string& descr, const std::string& what) {
  if (descr == "|b1") return DType::Bool;
  if (descr == "|u1" || descr == "<u1") return DType::U8;
  if (descr == "<i4") return DType::I32;
  if (descr == "<i8") return DType::I64;
  if (descr == "<f4") return DType::F32;
  if (descr == "<f8") return DType::F64;
  if (!descr.empty() && descr[0] == '>')
    input_error("{}: big-endian dtype '{}' is not supported (expected little-endian)", what, descr);
  if (descr.find('O') != std::string::npos)
    input_error("{}: object arrays ('{}') are not supported", what, descr);
  input_error("{}: unsupported dtype '{}' (gst reads |b1 |u1 <i4 <i8 <f4 <f8)", what, descr);
}

// A minimal reader of the .npy header dict: {'descr': '<f4', 'fortran_order':
// False, 'shape': (3, 4), }. Structured dtypes (descr lists) are rejected as
// unsupported.
struct NpyHeader {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
};

class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& what) : s_(text), what_(what) {}

  NpyHeader parse() {
    std::string descr;
    bool have_descr = false, have_order = false, have_shape = false, fortran = false;
    NpyHeader header;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      std::string key = quoted();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (peek() != '\'' && peek() != '"')
          input_error("{}: unsupported dtype (structured descr) in .npy header", what_);
        descr = quoted();
        have_descr = true;
      } else if (key == "fortran_order") {
        fortran = boolean();
        have_order = true;
      } else if (key == "shape") {
        header.shape = shape();
        have_shape = true;
      } else {
        bad("unknown key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') ++pos_;
    }
    if (!have_descr || !have_order || !have_shape)
      bad("missing 'descr', 'fortran_order' or 'shape'");
    if (fortran)
      input_error("{}: Fortran-order arrays are not supported (expected C order)", what_);
    header.dtype = parse_descr(descr, what_);
    return header;
  }

 private:
  [[noreturn]] void bad(const std::string& why) {
    input_error("{}: malformed .npy header ({}): {}", what_, why, s_);
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) bad(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string quoted() {
    skip_space();
    char q = peek();
    if (q != '\'' && q != '"') bad("expected a quoted string");
    size_t end = s_.find(q, pos_ + 1);
    if (end == std::string::npos) bad("unterminated string");
    std::string out = s_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    if (s_.compare(pos_, 4, "True") == 0) return pos_ += 4, true;
    if (s_.compare(pos_, 5, "False") == 0) return pos_ += 5, false;
    bad("expected True or False");
  }
  std::vector<int64_t> shape() {
    std::vector<int64_t> dims;
    expect('(');
    while (true) {
      skip_space();
      if (peek() == ')') break;
      int64_t dim = 0;
      auto [end, error] = std::from_chars(s_.data() + pos_, s_.data() + s_.size(), dim);
      if (end == s_.data() + pos_ || dim < 0) bad("expected a dimension");
      if (error == std::errc::result_out_of_range) bad("a dimension is too large");
      pos_ = end - s_.data();
      dims.push_back(dim);
      skip_space();
      if (peek() == ',') ++pos_;
    }
    ++pos_;
    return dims;
  }

  const std::string& s_;
  const std::string& what_;
  size_t pos_ = 0;
};

// The bytes an array of `shape` and `dtype` takes, or -1 when that does not fit
// in an int64.
int64_t checked_data_bytes(const std::vector<int64_t>& shape, DType dtype) {
  int64_t n = static_cast<int64_t>(dtype_size(dtype));
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, d, &n)) return -1;
  return n;
}

int64_t element_count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    out += std::to_string(shape[i]);
    if (shape.size() == 1 || i + 1 < shape.size()) out += shape.size() == 1 ? "," : ", ";
  }
  return out + ")";
}

// The .npy header numpy would write: version 1.0 (2.0 when longer than 64 KiB),
// padded so the data starts at a multiple of 64 bytes.
std::string npy_header(const NpyArray& array) {
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
                                 dtype_descr(array.dtype), shape_text(array.shape));
  bool v2 = dict.size() + 1 + 10 > 65535;
  size_t prefix = v2 ? 12 : 10;
  size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - prefix - dict.size() - 1, ' ');
  dict += '\n';
  std::string out(kMagic, kMagicLen);
  out += static_cast<char>(v2 ? 2 : 1);
  out += '\0';
  uint32_t len = static_cast<uint32_t>(dict.size());
  for (size_t i = 0; i < (v2 ? 4u : 2u); ++i) out += static_cast<char>((len >> (8 * i)) & 0xff);
  return out + dict;
}

template <typename T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, bool>) return DType::Bool;
  if constexpr (std::is_same_v<T, uint8_t>) return DType::U8;
  if constexpr (std::is_same_v<T, int32_t>) return DType::I32;
  if constexpr (std::is_same_v<T, int64_t>) return DType::I64;
  if constexpr (std::is_same_v<T, float>) return DType::F32;
  if constexpr (std::is_same_v<T, double>) return DType::F64;
}

// Converts n elements of `dtype` at `src` into `out`.
template <typename T>
void convert(DType dtype, const uint8_t* src, int64_t n, T* out) {
  auto run = [&](auto tag) {
    using S = decltype(tag);
    const S* in = reinterpret_cast<const S*>(src);
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(in[i]);
  };
  switch (dtype) {
    case DType::Bool:
    case DType::U8:
      return run(uint8_t{});
    case DType::I32:
      return run(int32_t{});
    case DType::I64:
      return run(int64_t{});
    case DType::F32:
      return run(float{});
    case DType::F64:
      return run(double{});
  }
}

bool is_integer_dtype(DType d) { return d != DType::F32 && d != DType::F64; }

// Sizes `v` to n elements. A large fresh buffer is advised to use transparent
// huge pages before its first touch (numpy does the same): a 100 MB array then
// takes ~50 page faults, not ~25000.
template <typename T>
void size_buffer(std::vector<T>& v, size_t n) {
  constexpr size_t kHuge = size_t(4) << 20;
  if (v.capacity() < n && n * sizeof(T) >= kHuge) {
    std::vector<T> fresh;
    fresh.reserve(n);
    const size_t page = 4096;
    auto begin = (reinterpret_cast<uintptr_t>(fresh.data()) + page - 1) / page * page;
    auto end = (reinterpret_cast<uintptr_t>(fresh.data() + n)) / page * page;
    if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
    v.swap(fresh);
  }
  v.resize(n);
}

}  // namespace

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::Bool:
    case DType::U8:
      return 1;
    case DType::I32:
    case DType::F32:
      return 4;
    case DType::I64:
    case DType::F64:
      return 8;
  }
  return 0;
}

const char* dtype_descr(DType dtype) {
  switch (dtype) {
    case DType::Bool:
      return "|b1";
    case DType::U8:
      return "|u1";
    case DType::I32:
      return "<i4";
    case DType::I64:
      return "<i8";
    case DType::F32:
      return "<f4";
    case DType::F64:
      return "<f8";
  }
  return "?";
}

int64_t NpyArray::size() const { return element_count(shape); }

bool NpyArray::is_integer() const { return is_integer_dtype(dtype); }

std::vector<int64_t> NpyArray::to_int64(const std::string& what) const {
  if (!is_integer())
    input_error("{}: expected an integer array, got dtype '{}'", what, dtype_descr(dtype));
  std::vector<int64_t> out(size());
  convert(dtype, bytes.data(), size(), out.data());
  return out;
}

std::vector<float> NpyArray::to_float(const std::string&) const {
  std::vector<float> out(size());
  convert(dtype, bytes.data(), size(), out.data());
  return out;
}

std::vector<double> NpyArray::to_double(const std::string&) const {
  std::vector<double> out(size());
  convert(dtype, bytes.data(), size(), out.data());
  return out;
}

template <typename T>
NpyArray NpyArray::from(const std::vector<T>& values, std::vector<int64_t> shape) {
  GST_CHECK(element_count(shape) == static_cast<int64_t>(values.size()),
            "NpyArray::from: {} values do not fill shape {}", values.size(), shape_text(shape));
  NpyArray array;
  array.dtype = dtype_of<T>();
  array.shape = std::move(shape);
  array.bytes.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(array.bytes.data(), values.data(), array.bytes.size());
  return array;
}

template NpyArray NpyArray::from(const std::vector<uint8_t>&, std::vector<int64_t>);
template NpyArray NpyArray::from(const std::vector<int32_t>&, std::vector<int64_t>);
template NpyArray NpyArray::from(const std::vector<int64_t>&, std::vector<int64_t>);
template NpyArray NpyArray::from(const std::vector<float>&, std::vector<int64_t>);
template NpyArray NpyArray::from(const std::vector<double>&, std::vector<int64_t>);

// ---- reading ----

struct NpzReader::Entry {
  std::string what;  // "file.npz: key"
  zip_file_t* file = nullptr;
  NpyHeader header;
  size_t data_bytes = 0;
  ~Entry() {
    if (file) zip_fclose(file);
  }
  Entry() = default;
  Entry(Entry&& o) noexcept
      : what(std::move(o.what)), file(o.file), header(o.header), data_bytes(o.data_bytes) {
    o.file = nullptr;
  }
};

NpzReader::NpzReader(const std::filesystem::path& path) : path_(path) {
  int code = 0;
  zip_t* za = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (!za) {
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    std::string message = zip_error_strerror(&error);
    zip_error_fini(&error);
    bool broken = code == ZIP_ER_NOZIP || code == ZIP_ER_INCONS;
    input_error("{}: cannot open as .npz{} (zip_open: {})", path.string(),
                broken ? ": not a zip archive, or truncated or corrupt" : "", message);
  }
  archive_ = za;
  zip_int64_t n = zip_get_num_entries(za, 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* name = zip_get_name(za, i, ZIP_FL_ENC_RAW);
    GST_ZIP_CHECK(name, "zip_get_name", zip_get_error(za), path.string(), true);
    std::string key = name;
    if (key.size() < 4 || key.compare(key.size() - 4, 4, ".npy") != 0) {
      zip_close(za);
      archive_ = nullptr;
      input_error("{}: entry '{}' is not a .npy array", path.string(), key);
    }
    keys_.push_back(key.substr(0, key.size() - 4));
  }
}

NpzReader::~NpzReader() {
  if (archive_) zip_discard(static_cast<zip_t*>(archive_));
}

bool NpzReader::has(const std::string& key) const {
  return std::find(keys_.begin(), keys_.end(), key) != keys_.end();
}

NpzReader::Entry NpzReader::open_entry(const std::string& key) {
  zip_t* za = static_cast<zip_t*>(archive_);
  Entry entry;
  entry.what = path_.string() + ": " + key;
  if (!has(key)) input_error("{}: missing array '{}'", path_.string(), key);
  std::string name = key + ".npy";
  zip_stat_t st;
  GST_ZIP_CHECK(zip_stat(za, name.c_str(), 0, &st) == 0, "zip_stat", zip_get_error(za), entry.what,
                true);
  // A damaged zip directory can claim any size: refuse one its stored bytes
  // cannot hold before allocating for it (deflate expands at most about
  // 1032:1).
  const uint64_t kMaxDeflateRatio = 1032;
  if ((st.valid & ZIP_STAT_SIZE) && (st.valid & ZIP_STAT_COMP_SIZE) &&
      st.size / kMaxDeflateRatio > st.comp_size + 1)
    input_error(
        "{}: the zip directory claims {} bytes from {} stored bytes: "
        "the file is corrupt",
        entry.what, st.size, st.comp_size);
  entry.file = zip_fopen(za, name.c_str(), 0);
  GST_ZIP_CHECK(entry.file, "zip_fopen", zip_get_error(za), entry.what, true);

  char prefix[12];
  read_data(entry, prefix, 8);
  if (std::memcmp(prefix, kMagic, kMagicLen) != 0)
    input_error("{}: not a .npy array (missing \\x93NUMPY magic)", entry.what);
  int major = static_cast<unsigned char>(prefix[6]);
  if (major < 1 || major > 3)
    input_error("{}: unsupported .npy version {}.{}", entry.what, major, int(prefix[7]));
  size_t len_bytes = major == 1 ? 2 : 4;
  unsigned char len_buf[4] = {0, 0, 0, 0};
  read_data(entry, len_buf, len_bytes);
  size_t header_len = 0;
  for (size_t i = 0; i < len_bytes; ++i) header_len |= size_t(len_buf[i]) << (8 * i);
  size_t header_end = 8 + len_bytes + header_len;
  if (header_end > st.size) input_error("{}: truncated .npy header", entry.what);
  std::string text(header_len, '\0');
  read_data(entry, text.data(), header_len);
  entry.header = HeaderParser(text, entry.what).parse();
  const int64_t data_bytes = checked_data_bytes(entry.header.shape, entry.header.dtype);
  if (data_bytes < 0)
    input_error("{}: shape {} in the .npy header is too large", entry.what,
                shape_text(entry.header.shape));
  entry.data_bytes = static_cast<size_t>(data_bytes);
  if (st.size - header_end != entry.data_bytes)
    input_error("{}: data size {} bytes does not match shape {} of {} ({} bytes)", entry.what,
                st.size - header_end, shape_text(entry.header.shape),
                dtype_descr(entry.header.dtype), entry.data_bytes);
  return entry;
}

void NpzReader::read_data(Entry& entry, void* dest, size_t bytes) {
  // Reads in pieces that fit in cache, so libzip's CRC check runs over data
  // still in cache.
  constexpr size_t kPiece = size_t(1) << 20;
  auto* out = static_cast<uint8_t*>(dest);
  size_t done = 0;
  while (done < bytes) {
    zip_int64_t n = zip_fread(entry.file, out + done, std::min(kPiece, bytes - done));
    GST_ZIP_CHECK(n >= 0, "zip_fread", zip_file_get_error(entry.file), entry.what, true);
    if (n == 0) input_error("{}: truncated data ({} of {} bytes)", entry.what, done, bytes);
    done += static_cast<size_t>(n);
  }
}

namespace {

// After the last data byte: libzip checks an entry's CRC-32 (and its size) only when a read
// reaches the end of the entry, so ask for one byte more and expect none.
void check_entry_end(NpzReader::Entry& entry) {
  char extra = 0;
  zip_int64_t n = zip_fread(entry.file, &extra, 1);
  GST_ZIP_CHECK(n >= 0, "zip_fread", zip_file_get_error(entry.file), entry.what, true);
  if (n != 0) input_error("{}: the entry holds more bytes than its .npy header says", entry.what);
}

}  // namespace

NpyArray NpzReader::read(const std::string& key) {
  Entry entry = open_entry(key);
  NpyArray array;
  array.dtype = entry.header.dtype;
  array.shape = entry.header.shape;
  size_buffer(array.bytes, entry.data_bytes);
  read_data(entry, array.bytes.data(), entry.data_bytes);
  check_entry_end(entry);
  return array;
}

template <typename T>
void NpzReader::read_as(const std::string& key, std::vector<T>& values,
                        std::vector<int64_t>& shape) {
  Entry entry = open_entry(key);
  shape = entry.header.shape;
  int64_t n = element_count(shape);
  DType stored = entry.header.dtype;
  if (std::is_integral_v<T> && !is_integer_dtype(stored))
    input_error("{}: expected an integer array, got dtype '{}'", entry.what, dtype_descr(stored));
  size_buffer(values, n);
  if (stored == dtype_of<T>()) {
    read_data(entry, values.data(), entry.data_bytes);
    check_entry_end(entry);
    return;
  }
  std::vector<uint8_t> raw(entry.data_bytes);
  read_data(entry, raw.data(), raw.size());
  check_entry_end(entry);
  convert(stored, raw.data(), n, values.data());
}

NpzReader::Stream::Stream(NpzReader* reader, std::unique_ptr<Entry> entry)
    : reader_(reader), entry_(std::move(entry)) {}

NpzReader::Stream::Stream(Stream&& other) noexcept
    : reader_(other.reader_), entry_(std::move(other.entry_)), done_(other.done_) {}

NpzReader::Stream::~Stream() = default;

DType NpzReader::Stream::dtype() const { return entry_->header.dtype; }

const std::vector<int64_t>& NpzReader::Stream::shape() const { return entry_->header.shape; }

int64_t NpzReader::Stream::data_bytes() const { return static_cast<int64_t>(entry_->data_bytes); }

const std::string& NpzReader::Stream::what() const { return entry_->what; }

void NpzReader::Stream::read(void* dest, size_t bytes) {
  if (static_cast<int64_t>(bytes) > remaining())
    input_error("{}: read of {} bytes past the end of its {} data bytes", entry_->what, bytes,
                entry_->data_bytes);
  reader_->read_data(*entry_, dest, bytes);
  done_ += static_cast<int64_t>(bytes);
  if (remaining() == 0) check_entry_end(*entry_);
}

NpzReader::Stream NpzReader::stream(const std::string& key) {
  return Stream(this, std::make_unique<Entry>(open_entry(key)));
}

template void NpzReader::read_as(const std::string&, std::vector<uint8_t>&, std::vector<int64_t>&);
template void NpzReader::read_as(const std::string&, std::vector<int64_t>&, std::vector<int64_t>&);
template void NpzReader::read_as(const std::string&, std::vector<float>&, std::vector<int64_t>&);
template void NpzReader::read_as(const std::string&, std::vector<double>&, std::vector<int64_t>&);

NpzArrays read_npz(const std::filesystem::path& path) {
  NpzReader reader(path);
  NpzArrays arrays;
  for (const std::string& key : reader.keys()) arrays.emplace(key, reader.read(key));
  return arrays;
}

// ---- writing ----

namespace {

// A libzip source streaming one array's .npy header and then its bytes, without
// copying them (from an array in memory, or produced by a generator as libzip
// asks for them).
struct NpySource {
  std::string header;
  const NpyArray* array = nullptr;
  const NpyGenerator* generator = nullptr;
  uint64_t data_bytes = 0;
  uint64_t pos = 0;
  zip_error_t error;

  uint64_t total() const { return header.size() + data_bytes; }

  void data(uint64_t offset, uint8_t* dest, uint64_t n) const {
    if (generator)
      generator->fill(offset, dest, n);
    else
      std::memcpy(dest, array->bytes.data() + offset, n);
  }

  static zip_int64_t callback(void* state, void* data, zip_uint64_t len, zip_source_cmd_t cmd) {
    auto* self = static_cast<NpySource*>(state);
    switch (cmd) {
      case ZIP_SOURCE_OPEN:
        self->pos = 0;
        return 0;
      case ZIP_SOURCE_READ: {
        uint64_t n = std::min<uint64_t>(len, self->total() - self->pos);
        auto* out = static_cast<uint8_t*>(data);
        for (uint64_t done = 0; done < n;) {
          uint64_t at = self->pos + done;
          if (at < self->header.size()) {
            uint64_t k = std::min<uint64_t>(n - done, self->header.size() - at);
            std::memcpy(out + done, self->header.data() + at, k);
            done += k;
          } else {
            uint64_t k = n - done;
            try {
              self->data(at - self->header.size(), out + done, k);
            } catch (...) {
              zip_error_set(&self->error, ZIP_ER_READ, 0);
              return -1;
            }
            done += k;
          }
        }
        self->pos += n;
        return static_cast<zip_int64_t>(n);
      }
      case ZIP_SOURCE_CLOSE:
        return 0;
      case ZIP_SOURCE_STAT: {
        auto* st = static_cast<zip_stat_t*>(data);
        zip_stat_init(st);
        st->size = self->total();
        st->mtime = 315532800;  // 1980-01-01: a fixed time keeps files byte-identical
        st->valid |= ZIP_STAT_SIZE | ZIP_STAT_MTIME;
        return sizeof(zip_stat_t);
      }
      case ZIP_SOURCE_ERROR:
        return zip_error_to_data(&self->error, data, len);
      case ZIP_SOURCE_FREE:
        return 0;
      case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE,
                                              ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE,
                                              -1);
      default:
        zip_error_set(&self->error, ZIP_ER_OPNOTSUPP, 0);
        return -1;
    }
  }
};

}  // namespace

void write_npz(const std::filesystem::path& path, const NpzArrays& arrays, bool compress) {
  write_npz(path, arrays, compress, {});
}

void write_npz(const std::filesystem::path& path, const NpzArrays& arrays, bool compress,
               const std::map<std::string, NpyGenerator>& generated) {
  std::filesystem::path tmp = path;
  tmp += ".tmp-" + std::to_string(getpid());
  const std::string where = path.string();
  int code = 0;
  zip_t* za = zip_open(tmp.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  if (!za) {
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    std::string message = zip_error_strerror(&error);
    zip_error_fini(&error);
    fail("{}: cannot create ({}: zip_open: {})", where, tmp.string(), message);
  }
  // Sources stream from `arrays` until zip_close, so they must outlive it.
  std::vector<std::unique_ptr<NpySource>> sources;
  // Entries in key order, as from one map.
  std::map<std::string, std::unique_ptr<NpySource>> entries;
  try {
    for (const auto& [key, array] : arrays) {
      GST_CHECK(static_cast<size_t>(array.size()) * dtype_size(array.dtype) == array.bytes.size(),
                "{}: array '{}' holds {} bytes, shape needs {}", where, key, array.bytes.size(),
                array.size() * dtype_size(array.dtype));
      auto source = std::make_unique<NpySource>();
      source->header = npy_header(array);
      source->array = &array;
      source->data_bytes = array.bytes.size();
      entries[key] = std::move(source);
    }
    for (const auto& [key, gen] : generated) {
      GST_CHECK(!entries.count(key), "{}: array '{}' given twice", where, key);
      NpyArray shape_only;
      shape_only.dtype = gen.dtype;
      shape_only.shape = gen.shape;
      const int64_t bytes = checked_data_bytes(gen.shape, gen.dtype);
      GST_CHECK(bytes >= 0 && gen.fill, "{}: generated array '{}' has no size or no fill", where,
                key);
      auto source = std::make_unique<NpySource>();
      source->header = npy_header(shape_only);
      source->generator = &gen;
      source->data_bytes = static_cast<uint64_t>(bytes);
      entries[key] = std::move(source);
    }
    for (auto& [key, entry] : entries) {
      auto source = std::move(entry);
      zip_error_init(&source->error);
      zip_source_t* zs = zip_source_function(za, &NpySource::callback, source.get());
      GST_ZIP_CHECK(zs, "zip_source_function", zip_get_error(za), where, false);
      sources.push_back(std::move(source));
      std::string name = key + ".npy";
      zip_int64_t index = zip_file_add(za, name.c_str(), zs, ZIP_FL_ENC_UTF_8);
      if (index < 0) zip_source_free(zs);
      GST_ZIP_CHECK(index >= 0, "zip_file_add", zip_get_error(za), where, false);
      // Level 1: inflate speed does not depend on the level, and writing stays
      // fast.
      GST_ZIP_CHECK(zip_set_file_compression(za, index, compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE,
                                             compress ? 1 : 0) == 0,
                    "zip_set_file_compression", zip_get_error(za), where, false);
    }
    GST_ZIP_CHECK(zip_close(za) == 0, "zip_close", zip_get_error(za), where, false);
  } catch (...) {
    zip_discard(za);
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw;
  }
  for (auto& s : sources) zip_error_fini(&s->error);
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    fail("{}: cannot rename the finished file into place: {}", where, ec.message());
  }
}

}  // namespace gst
