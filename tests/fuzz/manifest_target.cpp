// The segment store's manifest.json on arbitrary bytes.
#include "common/errors.h"
#include "fuzz_target.h"
#include "store/manifest.h"

namespace gst::fuzz {
namespace {

void run(const std::filesystem::path& file, const std::string& bytes) {
  write_file(file, bytes);
  Manifest m = Manifest::read(file.parent_path());
  for (const GraphEntry& g : m.graphs)
    require(g.shard >= 0 && g.shard < static_cast<int>(m.shards.size()),
            "an accepted manifest names a shard it does not list");
}

}  // namespace

const FuzzTarget& manifest_target() {
  static const FuzzTarget target{"manifest", "manifest.json", run};
  return target;
}

}  // namespace gst::fuzz
