// A TpuGraphs collection on disk (e.g. npz/layout/xla/random/{train,valid,test}/*.npz): its name,
// its graph files per split, and loading them with optional skipping of bad files.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "data/graph.h"
#include "data/graph_io.h"

namespace gst {

// One of layout:xla:random, layout:xla:default, layout:nlp:random, layout:nlp:default, tile:xla.
struct CollectionName {
  Task task = Task::Layout;
  std::string source;  // "xla" or "nlp"
  std::string search;  // "random" or "default"; empty for tile

  std::string str() const;                     // "layout:xla:random"
  std::filesystem::path relative_dir() const;  // "npz/layout/xla/random"
};

// Parses a collection name; throws InputError listing the valid names.
CollectionName parse_collection_name(const std::string& name);
const std::vector<std::string>& collection_names();  // the five valid names

// The split directories, in this order.
const std::vector<std::string>& split_names();  // {"train", "valid", "test"}

struct GraphFile {
  std::string id;     // file name without .npz
  std::string split;  // train | valid | test
  std::filesystem::path path;
};

struct SkippedFile {
  std::filesystem::path path;
  std::string reason;
};

struct LoadedGraphs {
  std::vector<Graph> graphs;         // in file order
  std::vector<GraphFile> files;      // files[i] is the source of graphs[i]
  std::vector<SkippedFile> skipped;  // bad files left out (skip_bad only)
};

class Collection {
 public:
  // `path` is either a dataset root holding npz/ (then `name` picks the collection; it may be
  // omitted when exactly one collection exists there) or a collection directory holding split
  // folders, whose name is inferred from the path's tail (.../layout/xla/random, .../tile/xla)
  // unless `name` is given. Throws InputError when neither fits or no split folder exists.
  static Collection open(const std::filesystem::path& path, const std::string& name = "");

  const CollectionName& name() const { return name_; }
  const std::filesystem::path& dir() const { return dir_; }  // holds train/ valid/ test/

  // The .npz files of one split sorted by id (empty when the split folder is absent); throws on
  // an unknown split name.
  const std::vector<GraphFile>& files(const std::string& split) const;
  // Files of the given splits (all three when empty), in split order then id order.
  std::vector<GraphFile> files(const std::vector<std::string>& splits) const;

  // Reads one file (runtimes optional in the test split). Throws InputError naming the path.
  Graph load(const GraphFile& file) const;
  // The options load uses for `file`.
  GraphReadOptions read_options(const GraphFile& file) const;
  // As load, but with skip_bad a bad file is appended to *skipped (path and reason) and nullopt
  // returned instead of throwing.
  std::optional<Graph> load(const GraphFile& file, bool skip_bad,
                            std::vector<SkippedFile>* skipped) const;
  // Every graph of the given splits (all when empty); fails on the first bad file unless skip_bad.
  LoadedGraphs load_all(const std::vector<std::string>& splits, bool skip_bad) const;

 private:
  CollectionName name_;
  std::filesystem::path dir_;
  std::vector<std::vector<GraphFile>> files_;  // per split_names() entry
};

}  // namespace gst
