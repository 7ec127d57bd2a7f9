// The .npz reader on arbitrary bytes: every array read whole, again converted to double, and
// streamed in pieces of growing, unaligned sizes (the path of big graphs in gst shard). An
// input that starts with the .npy magic is one array: it is stored in a zip as "x.npy" first, so
// that its mutations reach the .npy header parser instead of failing the zip's CRC check.
#include <zip.h>

#include <algorithm>
#include <cstring>

#include "common/errors.h"
#include "data/npz.h"
#include "fuzz_target.h"

namespace gst::fuzz {
namespace {

// Writes `npy` as the only entry of a stored (uncompressed) zip at `file`.
void write_npy_zip(const std::filesystem::path& file, const std::string& npy) {
  int code = 0;
  zip_t* za = zip_open(file.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  if (!za) fail("cannot create the fuzz input {} (libzip error {})", file.string(), code);
  zip_source_t* source = zip_source_buffer(za, npy.data(), npy.size(), 0);
  zip_int64_t index = source ? zip_file_add(za, "x.npy", source, 0) : -1;
  if (index < 0 && source) zip_source_free(source);
  if (index < 0 || zip_set_file_compression(za, index, ZIP_CM_STORE, 0) != 0 ||
      zip_close(za) != 0) {
    std::string message = zip_strerror(za);
    zip_discard(za);
    fail("cannot write the fuzz input {}: {}", file.string(), message);
  }
}

void run(const std::filesystem::path& file, const std::string& bytes) {
  if (bytes.compare(0, 6, "\x93NUMPY") == 0)
    write_npy_zip(file, bytes);
  else
    write_file(file, bytes);
  NpzReader reader(file);
  for (const std::string& key : reader.keys()) {
    NpyArray array = reader.read(key);
    std::vector<double> values;
    std::vector<int64_t> shape;
    reader.read_as(key, values, shape);
    require(shape == array.shape, "read_as gives another shape than read");
    const std::vector<double> converted = array.to_double(key);
    require(values.size() == converted.size(), "read_as gives another size than read");
    NpzReader::Stream stream = reader.stream(key);
    std::vector<uint8_t> streamed(array.bytes.size());
    for (size_t done = 0, piece = 7; done < streamed.size(); done += piece, piece *= 2) {
      piece = std::min(piece, streamed.size() - done);
      stream.read(streamed.data() + done, piece);
    }
    require(streamed == array.bytes, "streamed bytes differ from the array read whole");
  }
}

}  // namespace

const FuzzTarget& npz_target() {
  static const FuzzTarget target{"npz", "input.npz", run};
  return target;
}

}  // namespace gst::fuzz
