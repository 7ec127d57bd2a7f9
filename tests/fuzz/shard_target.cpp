// One HDF5 shard of a fixed, valid manifest (shard_manifest.json: a 12-node layout graph in three
// segments): every graph read whole, by segment with a subset of configs, and as the original.
#include <fstream>
#include <sstream>

#include "common/errors.h"
#include "fuzz_target.h"
#include "store/segment_store.h"

namespace gst::fuzz {
namespace {

const std::string& manifest_text() {
  static const std::string text = [] {
    std::ifstream in(GST_FUZZ_DATA_DIR "/shard_manifest.json", std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    if (!in || out.str().empty()) fail("cannot read " GST_FUZZ_DATA_DIR "/shard_manifest.json");
    return out.str();
  }();
  return text;
}

void run(const std::filesystem::path& file, const std::string& bytes) {
  write_file(file.parent_path() / "manifest.json", manifest_text());
  write_file(file, bytes);
  auto store = SegmentStore::open(file.parent_path());
  for (const GraphEntry& g : store->graphs()) {
    const std::vector<int64_t> configs{g.num_configs - 1, 0, g.num_configs - 1};
    for (int64_t s = 0; s < g.num_segments(); ++s) store->load_segment(g.index, s, configs);
    Graph original = store->load_original(g.index);
    require(original.num_nodes == g.num_nodes, "load_original changes the node count");
  }
}

}  // namespace

const FuzzTarget& shard_target() {
  static const FuzzTarget target{"shard", "shard-00000.h5", run};
  return target;
}

}  // namespace gst::fuzz
