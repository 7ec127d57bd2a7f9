#include "store/manifest.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/enum_names.h"
#include "common/errors.h"
#include "common/json_fits.h"
#include "store/schema.h"

namespace gst {
namespace {

using nlohmann::json;

json graph_to_json(const GraphEntry& g) {
  return {{"id", g.id},
          {"split", g.split},
          {"shard", g.shard},
          {"num_nodes", g.num_nodes},
          {"num_edges", g.num_edges},
          {"num_configs", g.num_configs},
          {"source_configs", std::max(g.source_configs, g.num_configs)},
          {"num_config_nodes", g.num_config_nodes},
          {"cut_edges", g.cut_edges},
          {"has_runtime", g.has_runtime},
          {"segment_offsets", g.segment_offsets}};
}

json shard_to_json(const ShardInfo& s) {
  return {{"file", s.file},
          {"checksum", s.checksum},
          {"bytes", s.bytes},
          {"work", s.work},
          {"graphs", s.graphs}};
}

// Reads manifest keys with errors that name the file and the key path.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  template <typename T>
  T get(const json& object, const std::string& key, const std::string& where) const {
    if (!object.is_object() || !object.contains(key))
      damaged(fmt::format("missing key '{}{}'", where, key));
    if (!json_fits<T>(object.at(key)))
      damaged(
          fmt::format("key '{}{}' holds a number out of range or not a whole number", where, key));
    try {
      return object.at(key).get<T>();
    } catch (const json::exception& e) {
      damaged(fmt::format("key '{}{}' has the wrong type ({})", where, key, e.what()));
    }
  }

  const json& array(const json& object, const std::string& key, const std::string& where) const {
    if (!object.is_object() || !object.contains(key) || !object.at(key).is_array())
      damaged(fmt::format("missing array '{}{}'", where, key));
    return object.at(key);
  }

  [[noreturn]] void bad(const std::string& what) const { input_error("{}: {}", file_, what); }

  // A manifest that gst did not write this way cannot be repaired, only written again.
  [[noreturn]] void damaged(const std::string& what) const {
    input_error(
        "{}: {}; the manifest is damaged or was not written by gst: shard the collection again "
        "(gst shard)",
        file_, what);
  }

 private:
  std::string file_;
};

// The statistics stored under <prefix>_mean, _std, _min, _max and _integer: all with `columns`
// values, or all empty (no train graphs).
ColumnStats read_column_stats(const Reader& r, const json& doc, const std::string& prefix,
                              size_t columns) {
  ColumnStats c;
  c.mean = r.get<std::vector<float>>(doc, prefix + "_mean", "");
  c.std = r.get<std::vector<float>>(doc, prefix + "_std", "");
  c.min = r.get<std::vector<float>>(doc, prefix + "_min", "");
  c.max = r.get<std::vector<float>>(doc, prefix + "_max", "");
  c.integer = r.get<std::vector<uint8_t>>(doc, prefix + "_integer", "");
  const size_t n = c.mean.empty() ? 0 : columns;
  for (size_t size : {c.mean.size(), c.std.size(), c.min.size(), c.max.size(), c.integer.size()})
    if (size != n)
      r.bad(
          fmt::format("{0}_mean, {0}_std, {0}_min, {0}_max and {0}_integer must all have {1} "
                      "values (or none)",
                      prefix, columns));
  return c;
}

}  // namespace

void Manifest::write(const std::filesystem::path& path) const {
  json graphs_json = json::array();
  for (const auto& g : graphs) graphs_json.push_back(graph_to_json(g));
  json shards_json = json::array();
  for (const auto& s : shards) shards_json.push_back(shard_to_json(s));
  json doc = {
      {"format", schema::kFormat},
      {"format_version", format_version},
      {"collection", collection},
      {"task", to_string(task)},
      {"partitioner", partitioner},
      {"segment_size", segment_size},
      {"options",
       {{"input", options.input},
        {"splits", options.splits},
        {"compression_level", options.compression_level},
        {"workers", options.workers},
        {"skipped_bad", options.skipped_bad},
        {"max_configs", options.max_configs},
        {"max_configs_seed", options.max_configs_seed}}},
      {"split_counts", split_counts},
      {"total_edges", total_edges},
      {"cut_edges", cut_edges},
      {"edge_cut_fraction", edge_cut_fraction()},
      {"feature_mean", node_columns.mean},
      {"feature_std", node_columns.std},
      {"feature_min", node_columns.min},
      {"feature_max", node_columns.max},
      {"feature_integer", node_columns.integer},
      {"config_mean", config_columns.mean},
      {"config_std", config_columns.std},
      {"config_min", config_columns.min},
      {"config_max", config_columns.max},
      {"config_integer", config_columns.integer},
      {"shards", shards_json},
      {"graphs", graphs_json},
  };
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail("cannot create {}: {}", path.string(), std::strerror(errno));
  out << doc.dump(1) << "\n";
  out.flush();
  if (!out) fail("cannot write {}: {}", path.string(), std::strerror(errno));
}

namespace {

json parse_manifest(const std::filesystem::path& path, const Reader& r) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    input_error(
        "{}: no manifest: not a segment store, or an incomplete one (gst shard writes the "
        "manifest last)",
        path.string());
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    r.damaged(fmt::format("not valid JSON ({})", e.what()));
  }
}

// Format, version, collection, options, counts and column statistics.
void read_header(const Reader& r, const json& doc, Manifest& m) {
  if (r.get<std::string>(doc, "format", "") != schema::kFormat)
    r.bad(fmt::format("key 'format' is not '{}'", schema::kFormat));
  m.format_version = r.get<int>(doc, "format_version", "");
  if (m.format_version != kStoreFormatVersion)
    r.bad(
        fmt::format("store format version {} is not the version this gst reads ({}); re-run "
                    "gst shard to rebuild the store",
                    m.format_version, kStoreFormatVersion));
  m.collection = r.get<std::string>(doc, "collection", "");
  const std::string task = r.get<std::string>(doc, "task", "");
  const std::optional<Task> parsed = find_enum<Task>(task);
  if (!parsed)
    r.bad(fmt::format("key 'task' is '{}', expected {}", task,
                      fmt::join(enum_words<Task>(), " or ")));
  m.task = *parsed;
  m.partitioner = r.get<std::string>(doc, "partitioner", "");
  m.segment_size = r.get<int64_t>(doc, "segment_size", "");
  const json& options = doc.contains("options") ? doc["options"] : json::object();
  m.options.input = r.get<std::string>(options, "input", "options.");
  m.options.splits = r.get<std::vector<std::string>>(options, "splits", "options.");
  m.options.compression_level = r.get<int>(options, "compression_level", "options.");
  m.options.workers = r.get<int>(options, "workers", "options.");
  m.options.skipped_bad = r.get<int64_t>(options, "skipped_bad", "options.");
  // Stores written before --max-configs existed kept every config.
  if (options.contains("max_configs")) {
    m.options.max_configs = r.get<int64_t>(options, "max_configs", "options.");
    m.options.max_configs_seed = r.get<uint64_t>(options, "max_configs_seed", "options.");
  }
  m.split_counts = r.get<std::map<std::string, int64_t>>(doc, "split_counts", "");
  m.total_edges = r.get<int64_t>(doc, "total_edges", "");
  m.cut_edges = r.get<int64_t>(doc, "cut_edges", "");
  m.node_columns = read_column_stats(r, doc, "feature", kNodeFeatureDim);
  m.config_columns = read_column_stats(r, doc, "config",
                                       m.task == Task::Layout ? kLayoutConfigDim : kTileConfigDim);
}

GraphEntry read_graph_entry(const Reader& r, const json& g, size_t i) {
  const std::string where = fmt::format("graphs[{}].", i);
  GraphEntry e;
  e.index = static_cast<int64_t>(i);
  e.id = r.get<std::string>(g, "id", where);
  e.split = r.get<std::string>(g, "split", where);
  e.shard = r.get<int>(g, "shard", where);
  e.num_nodes = r.get<int64_t>(g, "num_nodes", where);
  e.num_edges = r.get<int64_t>(g, "num_edges", where);
  e.num_configs = r.get<int64_t>(g, "num_configs", where);
  e.num_config_nodes = r.get<int64_t>(g, "num_config_nodes", where);
  e.source_configs =
      g.contains("source_configs") ? r.get<int64_t>(g, "source_configs", where) : e.num_configs;
  if (e.source_configs < e.num_configs)
    r.bad(fmt::format("{}source_configs ({}) is less than num_configs ({})", where,
                      e.source_configs, e.num_configs));
  e.cut_edges = r.get<int64_t>(g, "cut_edges", where);
  e.has_runtime = r.get<bool>(g, "has_runtime", where);
  e.segment_offsets = r.get<std::vector<int64_t>>(g, "segment_offsets", where);
  const auto& off = e.segment_offsets;
  bool ok = off.size() >= 2 && off.front() == 0 && off.back() == e.num_nodes;
  for (size_t s = 1; ok && s < off.size(); ++s) ok = off[s] > off[s - 1];
  if (!ok)
    r.bad(fmt::format("{}segment_offsets must rise strictly from 0 to num_nodes ({})", where,
                      e.num_nodes));
  return e;
}

// Shard i; every graph it lists must name it as its shard.
ShardInfo read_shard_info(const Reader& r, const json& shard, size_t i,
                          const std::vector<GraphEntry>& graphs) {
  const std::string where = fmt::format("shards[{}].", i);
  ShardInfo s;
  s.file = r.get<std::string>(shard, "file", where);
  s.checksum = r.get<std::string>(shard, "checksum", where);
  s.bytes = r.get<int64_t>(shard, "bytes", where);
  s.work = r.get<int64_t>(shard, "work", where);
  s.graphs = r.get<std::vector<int64_t>>(shard, "graphs", where);
  for (int64_t g : s.graphs)
    if (g < 0 || g >= static_cast<int64_t>(graphs.size()) || graphs[g].shard != static_cast<int>(i))
      r.bad(fmt::format("{}graphs lists graph {} that is not in this shard", where, g));
  return s;
}

}  // namespace

Manifest Manifest::read(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / schema::kManifestFile;
  const Reader r(path.string());
  const json doc = parse_manifest(path, r);
  Manifest m;
  read_header(r, doc, m);
  const json& graphs = r.array(doc, "graphs", "");
  for (size_t i = 0; i < graphs.size(); ++i) m.graphs.push_back(read_graph_entry(r, graphs[i], i));
  const json& shards = r.array(doc, "shards", "");
  for (size_t i = 0; i < shards.size(); ++i)
    m.shards.push_back(read_shard_info(r, shards[i], i, m.graphs));
  for (const auto& g : m.graphs)
    if (g.shard < 0 || g.shard >= static_cast<int>(m.shards.size()))
      r.bad(fmt::format("graph '{}' names shard {} of {}", g.id, g.shard, m.shards.size()));
  return m;
}

}  // namespace gst
