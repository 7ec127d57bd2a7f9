#include "data/collection.h"

#include <algorithm>

#include "common/enum_names.h"
#include "common/errors.h"

namespace gst {
namespace fs = std::filesystem;

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

bool has_split_dir(const fs::path& dir) {
  for (const auto& split : split_names())
    if (is_dir(dir / split)) return true;
  return false;
}

// The collection whose relative_dir() is a suffix of `dir`, if any.
std::optional<CollectionName> infer_name(const fs::path& dir) {
  std::vector<std::string> parts;
  for (const auto& part : fs::absolute(dir).lexically_normal()) {
    if (!part.empty() && part != "/") parts.push_back(part.string());
  }
  while (!parts.empty() && parts.back().empty()) parts.pop_back();
  for (const auto& name : collection_names()) {
    CollectionName c = parse_collection_name(name);
    std::vector<std::string> tail = {std::string(to_string(c.task)), c.source};
    if (!c.search.empty()) tail.push_back(c.search);
    if (parts.size() >= tail.size() &&
        std::equal(tail.begin(), tail.end(), parts.end() - tail.size()))
      return c;
  }
  return std::nullopt;
}

std::vector<GraphFile> list_split(const fs::path& dir, const std::string& split) {
  std::vector<GraphFile> files;
  fs::path split_dir = dir / split;
  if (!is_dir(split_dir)) return files;
  std::error_code ec;
  for (fs::directory_iterator it(split_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (p.extension() == ".npz" && it->is_regular_file())
      files.push_back({p.stem().string(), split, p});
  }
  if (ec) input_error("{}: cannot list the directory: {}", split_dir.string(), ec.message());
  std::sort(files.begin(), files.end(),
            [](const GraphFile& a, const GraphFile& b) { return a.id < b.id; });
  return files;
}

}  // namespace

std::string CollectionName::str() const {
  if (task == Task::Tile) return "tile:" + source;
  return "layout:" + source + ":" + search;
}

fs::path CollectionName::relative_dir() const {
  fs::path p = fs::path("npz") / std::string(to_string(task)) / source;
  return search.empty() ? p : p / search;
}

const std::vector<std::string>& collection_names() {
  static const std::vector<std::string> names = {"layout:xla:random", "layout:xla:default",
                                                 "layout:nlp:random", "layout:nlp:default",
                                                 "tile:xla"};
  return names;
}

const std::vector<std::string>& split_names() {
  static const std::vector<std::string> names = {"train", "valid", "test"};
  return names;
}

CollectionName parse_collection_name(const std::string& name) {
  CollectionName c;
  if (name == "tile:xla") {
    c.task = Task::Tile;
    c.source = "xla";
    return c;
  }
  for (const char* source : {"xla", "nlp"})
    for (const char* search : {"random", "default"})
      if (name == fmt::format("layout:{}:{}", source, search)) {
        c.source = source;
        c.search = search;
        return c;
      }
  input_error("unknown collection '{}' (valid: {})", name, join(collection_names()));
}

Collection Collection::open(const fs::path& path, const std::string& name) {
  if (!is_dir(path)) input_error("{}: not a directory", path.string());
  Collection c;
  if (is_dir(path / "npz")) {
    if (!name.empty()) {
      c.name_ = parse_collection_name(name);
    } else {
      std::vector<std::string> found;
      for (const auto& n : collection_names())
        if (is_dir(path / parse_collection_name(n).relative_dir())) found.push_back(n);
      if (found.size() != 1)
        input_error("{}: {} collections under npz/ ({}); choose one with --collection",
                    path.string(), found.size(), join(found));
      c.name_ = parse_collection_name(found[0]);
    }
    c.dir_ = path / c.name_.relative_dir();
  } else {
    std::optional<CollectionName> inferred = infer_name(path);
    if (!name.empty()) {
      c.name_ = parse_collection_name(name);
    } else if (inferred) {
      c.name_ = *inferred;
    } else {
      input_error(
          "{}: cannot tell the collection from the path (expected .../layout/<xla|nlp>/"
          "<random|default> or .../tile/xla); name it with --collection",
          path.string());
    }
    c.dir_ = path;
  }
  if (!has_split_dir(c.dir_))
    input_error("{}: no train/, valid/ or test/ folder for collection {}", c.dir_.string(),
                c.name_.str());
  for (const auto& split : split_names()) c.files_.push_back(list_split(c.dir_, split));
  return c;
}

const std::vector<GraphFile>& Collection::files(const std::string& split) const {
  const auto& names = split_names();
  auto it = std::find(names.begin(), names.end(), split);
  if (it == names.end()) input_error("unknown split '{}' (valid: {})", split, join(names));
  return files_[it - names.begin()];
}

std::vector<GraphFile> Collection::files(const std::vector<std::string>& splits) const {
  std::vector<GraphFile> out;
  for (const auto& split : split_names()) {
    bool wanted = splits.empty() || std::find(splits.begin(), splits.end(), split) != splits.end();
    if (wanted) {
      const auto& f = files(split);
      out.insert(out.end(), f.begin(), f.end());
    }
  }
  for (const auto& split : splits) files(split);  // rejects unknown names
  return out;
}

GraphReadOptions Collection::read_options(const GraphFile& file) const {
  GraphReadOptions options;
  options.runtime_optional = file.split == "test";
  return options;
}

Graph Collection::load(const GraphFile& file) const {
  return read_graph(file.path, name_.task, read_options(file));
}

std::optional<Graph> Collection::load(const GraphFile& file, bool skip_bad,
                                      std::vector<SkippedFile>* skipped) const {
  if (!skip_bad) return load(file);
  try {
    return load(file);
  } catch (const InputError& e) {
    if (skipped) skipped->push_back({file.path, e.what()});
    return std::nullopt;
  }
}

LoadedGraphs Collection::load_all(const std::vector<std::string>& splits, bool skip_bad) const {
  LoadedGraphs out;
  for (const GraphFile& file : files(splits)) {
    std::optional<Graph> g = load(file, skip_bad, &out.skipped);
    if (!g) continue;
    out.graphs.push_back(std::move(*g));
    out.files.push_back(file);
  }
  return out;
}

}  // namespace gst
