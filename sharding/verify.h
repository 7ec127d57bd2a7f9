// `gst shard --verify`: re-reads a whole store and lists every inconsistency it finds.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace gst {

struct VerifyReport {
  std::vector<std::string> problems;  // one readable line each; empty when the store is sound
  int64_t shards = 0, graphs = 0, segments = 0, bytes = 0;
};

// Checks the manifest, each shard's size and checksum, and every graph and segment: shapes,
// counts against the manifest, id ranges, permutations, edge totals. Never throws for a broken
// store: each problem is reported and checking goes on with the next graph or shard.
VerifyReport verify_store(const std::filesystem::path& dir);

}  // namespace gst
