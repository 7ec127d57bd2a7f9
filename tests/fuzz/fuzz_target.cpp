#include "fuzz_target.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "common/errors.h"

namespace gst::fuzz {

std::string rejection_problem(const FuzzTarget& target, const std::filesystem::path& file,
                              const std::string& bytes, const std::string& message) {
  const std::string name = target.name;
  const std::filesystem::path named = name == "checkpoint" ? file.parent_path() : file;
  const bool names_override = name == "config" && message.rfind("--set ", 0) == 0;
  if (message.find(named.string()) == std::string::npos && !names_override)
    return "the message does not name " + named.string();
  // Messages may quote the input, and the fuzzer learns the strings this function looks for.
  const char* source = GST_SOURCE_DIR "/src";
  if (message.find(source) != std::string::npos && bytes.find(source) == std::string::npos)
    return "the message shows a path of the source tree";
  return "";
}

void write_file(const std::filesystem::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) fail("cannot write the fuzz input {}", file.string());
}

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz property violated: %s\n", what);
  std::abort();
}

}  // namespace gst::fuzz
