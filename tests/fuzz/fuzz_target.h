// A fuzzed reader: where its input bytes go and how the real reader runs on them, shared by the
// libFuzzer targets (fuzz_main.cpp) and the regression test that CI runs (fuzz_regression_test).
#pragma once

#include <filesystem>
#include <string>

namespace gst::fuzz {

struct FuzzTarget {
  const char* name;  // folder under corpus/ and regressions/
  const char* file;  // where the input goes, relative to a scratch directory
  // Writes `bytes` to `file` (with the fixed files the reader needs beside it) and runs the
  // reader on it; throws InputError when the reader rejects the input.
  void (*run)(const std::filesystem::path& file, const std::string& bytes);
};

const FuzzTarget& npz_target();         // data/npz: NpzReader, read_npz
const FuzzTarget& config_target();      // run/run_config: YAML file + NUL-separated --set overrides
const FuzzTarget& manifest_target();    // store/manifest: Manifest::read
const FuzzTarget& shard_target();       // store/segment_store: one HDF5 shard of a fixed manifest
const FuzzTarget& checkpoint_target();  // run/checkpoint: manifest.json of a checkpoint directory

// Why the message of a rejection is not good enough ("" when it is): it must name the input file
// (or, for a checkpoint, the directory holding it; for config, the --set override at fault) and
// no path of the source tree that the input `bytes` did not hold.
std::string rejection_problem(const FuzzTarget& target, const std::filesystem::path& file,
                              const std::string& bytes, const std::string& message);

// Helpers for the targets.
void write_file(const std::filesystem::path& file, const std::string& bytes);
// Aborts with `what` (a finding) when a property of an accepted input does not hold.
void require(bool ok, const char* what);

}  // namespace gst::fuzz
