// Streaming one .npy member of an .npz a piece at a time: node_config_feat of graphs too big to
// hold (NpzReader::Stream, ConfigFeatStream).
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "common/errors.h"
#include "data/graph_io.h"
#include "data/npz.h"
#include "test_support.h"

namespace gst {
namespace {

namespace fs = std::filesystem;
using testing::ScratchDir;

// [C, M, 18] float32 with a distinct value everywhere.
std::vector<float> config_values(int64_t C, int64_t M) {
  std::vector<float> v(C * M * kLayoutConfigDim);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 9973) - 3.5f;
  return v;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

TEST(NpzStream, PiecesOfAnySizeGiveTheWholeArrayStoredAndDeflated) {
  ScratchDir dir("npz_stream_pieces");
  const int64_t C = 37, M = 11;
  std::vector<float> values = config_values(C, M);
  for (bool compress : {false, true}) {
    fs::path path = dir / (compress ? "deflated.npz" : "stored.npz");
    write_npz(path, {{"node_config_feat", NpyArray::from(values, {C, M, kLayoutConfigDim})}},
              compress);
    NpzReader reader(path);
    // Piece sizes that split rows and even single floats.
    for (size_t piece : {size_t{1}, size_t{7}, size_t{1000}, size_t{4096 + 3}}) {
      NpzReader::Stream stream = reader.stream("node_config_feat");
      EXPECT_EQ(stream.shape(), (std::vector<int64_t>{C, M, kLayoutConfigDim}));
      EXPECT_EQ(stream.dtype(), DType::F32);
      std::vector<uint8_t> got(stream.data_bytes());
      for (size_t at = 0; at < got.size(); at += piece)
        stream.read(got.data() + at, std::min(piece, got.size() - at));
      EXPECT_EQ(stream.remaining(), 0);
      EXPECT_EQ(std::memcmp(got.data(), values.data(), got.size()), 0)
          << "compress " << compress << " piece " << piece;
      EXPECT_THROW(stream.read(got.data(), 1), InputError);  // past the end
    }
    // Blocks of configs that do not divide C.
    ConfigFeatStream configs(path, C, M);
    std::vector<float> got(values.size());
    for (int64_t at = 0; at < C; at += 5) {
      int64_t n = std::min<int64_t>(5, C - at);
      configs.read(n, got.data() + at * M * kLayoutConfigDim);
    }
    EXPECT_EQ(configs.configs_left(), 0);
    EXPECT_EQ(got, values);
  }
}

TEST(NpzStream, OtherDtypesAreConvertedBlockByBlock) {
  ScratchDir dir("npz_stream_dtype");
  const int64_t C = 9, M = 4;
  std::vector<float> values = config_values(C, M);
  std::vector<double> wide(values.begin(), values.end());
  fs::path path = dir / "f8.npz";
  write_npz(path, {{"node_config_feat", NpyArray::from(wide, {C, M, kLayoutConfigDim})}}, true);
  ConfigFeatStream configs(path, C, M);
  std::vector<float> got(values.size());
  configs.read(4, got.data());
  configs.read(5, got.data() + 4 * M * kLayoutConfigDim);
  EXPECT_EQ(got, values);
}

TEST(NpzStream, WrongShapeIsAnErrorNamingFileAndArray) {
  ScratchDir dir("npz_stream_shape");
  fs::path path = dir / "g.npz";
  write_npz(path, {{"node_config_feat", NpyArray::from(config_values(3, 4), {3, 4, 18})}}, false);
  try {
    ConfigFeatStream configs(path, 3, 5);
    FAIL() << "M = 5 must not match [3, 4, 18]";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("node_config_feat"), std::string::npos) << e.what();
  }
  // A header whose shape claims more data than the member holds.
  std::string bytes = read_file(path);
  size_t at = bytes.find("(3, 4, 18)");
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 10, "(5, 4, 18)");
  write_file(path, bytes);
  try {
    ConfigFeatStream configs(path, 5, 4);
    FAIL() << "a shape the bytes cannot hold must be refused";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("does not match shape (5, 4, 18)"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("node_config_feat"), std::string::npos) << e.what();
  }
}

TEST(NpzStream, CorruptDeflateDataMidMemberIsAnErrorNamingFileAndArray) {
  ScratchDir dir("npz_stream_corrupt");
  const int64_t C = 400, M = 30;
  std::vector<float> values(C * M * kLayoutConfigDim);
  uint32_t x = 1;  // noise compresses poorly, so the member's deflate data is long
  for (auto& v : values) v = static_cast<float>((x = x * 1664525u + 1013904223u) >> 8);
  for (bool compress : {true, false}) {
    fs::path path = dir / "g.npz";
    write_npz(path, {{"node_config_feat", NpyArray::from(values, {C, M, kLayoutConfigDim})}},
              compress);
    std::string bytes = read_file(path);
    for (size_t i = bytes.size() / 2; i < bytes.size() / 2 + 64; ++i) bytes[i] ^= 0x5a;
    write_file(path, bytes);
    ConfigFeatStream configs(path, C, M);  // the header is intact
    std::vector<float> block(50 * M * kLayoutConfigDim);
    try {
      for (int64_t at = 0; at < C; at += 50) configs.read(50, block.data());
      FAIL() << "corrupt data must not read cleanly (compress " << compress << ")";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(path.string() + ": node_config_feat"), std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace gst
