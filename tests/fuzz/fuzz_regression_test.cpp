// Every seed (tests/fuzz/corpus/<target>/) and every input a fuzzer once crashed on
// (tests/fuzz/regressions/<target>/) through its reader: a file named valid-* must be read, one
// named bad-* must be rejected with an InputError whose message names the file.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/errors.h"
#include "fuzz_target.h"
#include "test_support.h"

namespace gst::fuzz {
namespace {

namespace fs = std::filesystem;

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Runs one input and checks the outcome its name promises.
void check_input(const FuzzTarget& target, const fs::path& input) {
  SCOPED_TRACE(input.string());
  const std::string name = input.filename().string();
  const bool valid = name.rfind("valid-", 0) == 0;
  ASSERT_TRUE(valid || name.rfind("bad-", 0) == 0) << "name it valid-* or bad-*";
  testing::ScratchDir scratch(std::string("fuzz-") + target.name);
  const fs::path file = scratch / target.file;
  fs::create_directories(file.parent_path());
  const std::string bytes = read_bytes(input);
  try {
    target.run(file, bytes);
    EXPECT_TRUE(valid) << "a bad input was accepted";
  } catch (const InputError& e) {
    EXPECT_FALSE(valid) << "a valid input was rejected: " << e.what();
    EXPECT_EQ(rejection_problem(target, file, bytes, e.what()), "") << e.what();
  }
}

class FuzzRegression : public ::testing::TestWithParam<const FuzzTarget*> {};

TEST_P(FuzzRegression, SeedsAndFoundInputsAreReadOrClearlyRejected) {
  const FuzzTarget& target = *GetParam();
  int valid = 0, bad = 0;
  for (const char* folder : {"corpus", "regressions"}) {
    const fs::path dir = fs::path(GST_FUZZ_DATA_DIR) / folder / target.name;
    if (!fs::is_directory(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      check_input(target, entry.path());
      (entry.path().filename().string().rfind("valid-", 0) == 0 ? valid : bad) += 1;
    }
  }
  // Each target keeps valid seeds (what the fuzzer mutates) and bad inputs (what it must reject).
  EXPECT_GT(valid, 0);
  EXPECT_GT(bad, 0);
}

INSTANTIATE_TEST_SUITE_P(Fuzz, FuzzRegression,
                         ::testing::Values(&npz_target(), &config_target(), &manifest_target(),
                                           &shard_target(), &checkpoint_target()),
                         [](const auto& info) { return std::string(info.param->name); });

}  // namespace
}  // namespace gst::fuzz
