// The .npz reader/writer against numpy as an independent client, and its errors on broken files.
#include "data/npz.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/errors.h"
#include "expect_input_error.h"
#include "test_support.h"

namespace gst {
namespace {

using testing::expect_input_error;
using testing::run_python;
using testing::ScratchDir;

// Values both sides can compute: v(i) = (37 i mod 101) - 50 (non-negative for u1, parity for b1,
// quartered for floats so they are exact in float32).
double pattern(DType dtype, int64_t i) {
  int64_t v = (i * 37) % 101;
  switch (dtype) {
    case DType::Bool:
      return v % 3 == 0 ? 1 : 0;
    case DType::U8:
      return v;
    case DType::I32:
    case DType::I64:
      return v - 50;
    default:
      return (v - 50) / 4.0;
  }
}

const char* kPythonPattern = R"(
import numpy as np
def pattern(dtype, shape):
    n = int(np.prod(shape, dtype=np.int64))
    v = (np.arange(n, dtype=np.int64) * 37) % 101
    if dtype == np.bool_: a = (v % 3 == 0)
    elif dtype == np.uint8: a = v
    elif dtype in (np.int32, np.int64): a = v - 50
    else: a = (v - 50) / 4.0
    return a.astype(dtype).reshape(shape)
)";

NpyArray make_array(DType dtype, std::vector<int64_t> shape) {
  NpyArray a;
  a.dtype = dtype;
  a.shape = std::move(shape);
  a.bytes.resize(a.size() * dtype_size(dtype));
  for (int64_t i = 0; i < a.size(); ++i) {
    double v = pattern(dtype, i);
    uint8_t* p = a.bytes.data() + i * dtype_size(dtype);
    switch (dtype) {
      case DType::Bool:
      case DType::U8:
        *p = static_cast<uint8_t>(v);
        break;
      case DType::I32: {
        int32_t x = static_cast<int32_t>(v);
        std::memcpy(p, &x, 4);
        break;
      }
      case DType::I64: {
        int64_t x = static_cast<int64_t>(v);
        std::memcpy(p, &x, 8);
        break;
      }
      case DType::F32: {
        float x = static_cast<float>(v);
        std::memcpy(p, &x, 4);
        break;
      }
      case DType::F64:
        std::memcpy(p, &v, 8);
        break;
    }
  }
  return a;
}

const std::vector<DType> kAllDTypes = {DType::Bool, DType::U8,  DType::I32,
                                       DType::I64,  DType::F32, DType::F64};
const std::vector<std::vector<int64_t>> kShapes = {{},     {0},       {1},       {7},
                                                   {3, 5}, {2, 0, 3}, {4, 3, 18}};

std::string shape_key(const std::vector<int64_t>& shape) {
  std::string s = "s";
  for (int64_t d : shape) s += "_" + std::to_string(d);
  return s;
}

void expect_pattern(const NpyArray& a, DType dtype, const std::vector<int64_t>& shape,
                    const std::string& what) {
  ASSERT_EQ(a.dtype, dtype) << what;
  ASSERT_EQ(a.shape, shape) << what;
  std::vector<double> values = a.to_double(what);
  ASSERT_EQ(static_cast<int64_t>(values.size()), a.size()) << what;
  for (size_t i = 0; i < values.size(); ++i)
    ASSERT_EQ(values[i], pattern(dtype, i)) << what << " element " << i;
}

TEST(Npz, GstWritesNumpyReadsEveryDtypeAndShape) {
  ScratchDir dir("npz-write");
  for (bool compress : {false, true}) {
    NpzArrays arrays;
    for (DType d : kAllDTypes)
      for (const auto& shape : kShapes)
        arrays[std::string(dtype_descr(d) + 1) + "_" + shape_key(shape)] = make_array(d, shape);
    auto file = dir / (compress ? "c.npz" : "s.npz");
    write_npz(file, arrays, compress);
    auto r = run_python(std::string(kPythonPattern) + R"(
import sys, zipfile
names = {'b1': np.bool_, 'u1': np.uint8, 'i4': np.int32, 'i8': np.int64, 'f4': np.float32, 'f8': np.float64}
path, compressed = sys.argv[1], sys.argv[2] == '1'
with zipfile.ZipFile(path) as z:
    want = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    assert all(i.compress_type == want for i in z.infolist()), 'compression type'
d = np.load(path)
assert len(d.files) == 42, d.files
for key in d.files:
    a = d[key]
    dt, _, dims = key.partition('_s')
    shape = tuple(int(x) for x in dims.split('_') if x)
    assert a.dtype == names[dt], (key, a.dtype)
    assert a.shape == shape, (key, a.shape)
    assert a.flags.c_contiguous
    assert np.array_equal(a, pattern(names[dt], shape)), key
print('checked', len(d.files))
)",
                        file.string() + (compress ? " 1" : " 0"));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("checked 42"), std::string::npos) << r.output;
    // And gst reads its own file back.
    NpzArrays back = read_npz(file);
    ASSERT_EQ(back.size(), arrays.size());
    for (const auto& [key, a] : arrays) expect_pattern(back.at(key), a.dtype, a.shape, key);
  }
}

TEST(Npz, NumpyWritesGstReadsSavezCompressedAndNpyVersions) {
  ScratchDir dir("npz-read");
  auto r = run_python(std::string(kPythonPattern) + R"(
import sys, zipfile, io
out = sys.argv[1]
arrays = {}
for dt, name in [(np.bool_, 'b1'), (np.uint8, 'u1'), (np.int32, 'i4'), (np.int64, 'i8'), (np.float32, 'f4'), (np.float64, 'f8')]:
    for shape in [(), (0,), (1,), (7,), (3, 5), (2, 0, 3), (4, 3, 18), (1000, 140)]:
        arrays[name + '_s' + ''.join('_' + str(x) for x in shape)] = pattern(dt, shape)
np.savez(out + '/stored.npz', **arrays)
np.savez_compressed(out + '/compressed.npz', **arrays)
# .npy versions 2.0 and 3.0, in stored and deflated entries
for version in [(1, 0), (2, 0), (3, 0)]:
    for method in [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]:
        with zipfile.ZipFile('%s/v%d_%d.npz' % (out, version[0], method), 'w', method) as z:
            for key in ['f4_s_3_5', 'i8_s_7', 'u1_s']:
                buf = io.BytesIO()
                np.lib.format.write_array(buf, arrays[key], version=version)
                z.writestr(key + '.npy', buf.getvalue())
)",
                      dir.path().string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto check_file = [&](const std::string& name, size_t expected_count) {
    NpzArrays arrays = read_npz(dir / name);
    EXPECT_EQ(arrays.size(), expected_count) << name;
    for (const auto& [key, a] : arrays) {
      std::string dt = key.substr(0, 2);
      DType d = dt == "b1"   ? DType::Bool
                : dt == "u1" ? DType::U8
                : dt == "i4" ? DType::I32
                : dt == "i8" ? DType::I64
                : dt == "f4" ? DType::F32
                             : DType::F64;
      std::vector<int64_t> shape;
      std::string dims = key.substr(key.find("_s") + 2);
      for (size_t pos = 0; pos < dims.size();) {
        size_t next = dims.find('_', pos + 1);
        shape.push_back(std::stoll(dims.substr(pos + 1, next - pos - 1)));
        pos = next == std::string::npos ? dims.size() : next;
      }
      expect_pattern(a, d, shape, name + ": " + key);
    }
  };
  check_file("stored.npz", 48);
  check_file("compressed.npz", 48);
  for (const char* v : {"v1", "v2", "v3"})
    for (const char* m : {"_0.npz", "_8.npz"}) check_file(std::string(v) + m, 3);

  // Typed reads convert from any integer dtype and reject floats for integer buffers.
  NpzReader reader(dir / "compressed.npz");
  std::vector<int64_t> ints, shape;
  reader.read_as("u1_s_3_5", ints, shape);
  EXPECT_EQ(shape, (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(ints[2], pattern(DType::U8, 2));
  std::vector<float> floats;
  reader.read_as("f8_s_7", floats, shape);
  EXPECT_EQ(floats[3], static_cast<float>(pattern(DType::F64, 3)));
  expect_input_error([&] { reader.read_as("f4_s_7", ints, shape); },
                     {"compressed.npz: f4_s_7", "expected an integer array"});
  expect_input_error([&] { reader.read("nope"); }, {"compressed.npz", "missing array 'nope'"});
}

// Broken files written by numpy/zipfile in the test; each must give its own message.
TEST(Npz, BrokenFilesGiveSpecificErrors) {
  ScratchDir dir("npz-broken");
  auto r = run_python(R"(
import sys, zipfile, io, numpy as np
out = sys.argv[1]
def npz(name, entries, method=zipfile.ZIP_STORED):
    with zipfile.ZipFile(out + '/' + name, 'w', method) as z:
        for k, v in entries.items(): z.writestr(k, v)
def npy(a, **kw):
    b = io.BytesIO(); np.lib.format.write_array(b, a, **kw); return b.getvalue()
np.savez(out + '/big_endian.npz', x=np.arange(4, dtype='>i4'))
np.savez(out + '/fortran.npz', x=np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
np.savez(out + '/object.npz', x=np.array([{'a': 1}, None], dtype=object))
np.savez(out + '/int16.npz', x=np.arange(4, dtype=np.int16))
np.savez(out + '/complex.npz', x=np.arange(4, dtype=np.complex64))
npz('magic.npz', {'x.npy': b'NOTNUMPY' + b'\0' * 100})
npz('header.npz', {'x.npy': npy(np.arange(3))[:20]})
npz('short.npz', {'x.npy': npy(np.arange(10, dtype=np.int64))[:-8]})
npz('long.npz', {'x.npy': npy(np.arange(10, dtype=np.int64)) + b'\0' * 8})
npz('notnpy.npz', {'x.txt': b'hello'})
np.savez_compressed(out + '/good.npz', x=np.arange(100000, dtype=np.int64))
data = open(out + '/good.npz', 'rb').read()
open(out + '/truncated.npz', 'wb').write(data[: len(data) // 2])
bad = bytearray(data); mid = len(bad) // 2
for i in range(mid, mid + 64): bad[i] ^= 0x5a
open(out + '/corrupt.npz', 'wb').write(bytes(bad))
open(out + '/text.npz', 'w').write('not a zip file at all')
)",
                      dir.path().string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto read = [&](const std::string& name) { return [&dir, name] { read_npz(dir / name); }; };
  expect_input_error(read("big_endian.npz"), {"big_endian.npz: x", "big-endian", ">i4"});
  expect_input_error(read("fortran.npz"), {"fortran.npz: x", "Fortran-order"});
  expect_input_error(read("object.npz"), {"object.npz: x", "object arrays"});
  expect_input_error(read("int16.npz"), {"int16.npz: x", "unsupported dtype '<i2'"});
  expect_input_error(read("complex.npz"), {"complex.npz: x", "unsupported dtype '<c8'"});
  expect_input_error(read("magic.npz"), {"magic.npz: x", "missing \\x93NUMPY magic"});
  expect_input_error(read("header.npz"), {"header.npz: x", "truncated .npy header"});
  expect_input_error(read("short.npz"), {"short.npz: x", "data size 72 bytes",
                                         "does not match shape (10,) of <i8 (80 bytes)"});
  expect_input_error(read("long.npz"), {"long.npz: x", "data size 88 bytes"});
  expect_input_error(read("notnpy.npz"), {"notnpy.npz", "entry 'x.txt' is not a .npy array"});
  expect_input_error(read("truncated.npz"), {"truncated.npz", "truncated or corrupt"});
  expect_input_error(read("corrupt.npz"), {"corrupt.npz: x", "zip_fread failed"});
  expect_input_error(read("text.npz"), {"text.npz", "Not a zip archive"});
  expect_input_error(read("absent.npz"), {"absent.npz", "cannot open as .npz"});
  EXPECT_NO_THROW(read_npz(dir / "good.npz"));
}

TEST(Npz, WriteIsAtomicAndDeterministic) {
  ScratchDir dir("npz-atomic");
  NpzArrays arrays;
  arrays["a"] = make_array(DType::F32, {100, 140});
  arrays["b"] = make_array(DType::I64, {50, 2});
  write_npz(dir / "one.npz", arrays, true);
  write_npz(dir / "two.npz", arrays, true);
  auto bytes = [](const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(bytes(dir / "one.npz"), bytes(dir / "two.npz"));
  // A malformed array fails the write and leaves neither the target nor a temporary behind.
  arrays["c"].dtype = DType::I32;
  arrays["c"].shape = {3};
  arrays["c"].bytes.resize(5);
  EXPECT_THROW(write_npz(dir / "three.npz", arrays, false), Error);
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) (void)e, ++entries;
  EXPECT_EQ(entries, 2u);
  EXPECT_THROW(write_npz(dir / "no-such-dir" / "x.npz", arrays, false), Error);
}

}  // namespace
}  // namespace gst
