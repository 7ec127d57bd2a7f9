// `gst inspect`: validates graph files and prints per-graph and per-split summaries.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <iostream>
#include <memory>

#include "commands.h"
#include "common/enum_names.h"
#include "common/errors.h"
#include "data/collection.h"
#include "data/graph_io.h"
#include "data/npz.h"

namespace gst {
namespace {

struct InspectArgs {
  std::filesystem::path path;
  std::string collection;
  bool skip_bad = false;
};

// Totals over the graphs of one split (or one file).
struct Summary {
  int64_t graphs = 0, nodes = 0, edges = 0, configs = 0, config_nodes = 0;
  int64_t min_nodes = INT64_MAX, max_nodes = 0;
  double min_runtime = INFINITY, max_runtime = -INFINITY;
  std::array<int64_t, kNumOpcodes> opcodes{};

  void add(const Graph& g) {
    ++graphs;
    nodes += g.num_nodes;
    edges += g.num_edges();
    configs += g.num_configs();
    config_nodes += g.num_config_nodes();
    min_nodes = std::min(min_nodes, g.num_nodes);
    max_nodes = std::max(max_nodes, g.num_nodes);
    if (g.has_runtime)
      for (double r : g.runtime) {
        min_runtime = std::min(min_runtime, r);
        max_runtime = std::max(max_runtime, r);
      }
    for (uint8_t op : g.node_opcode) ++opcodes[op];
  }
};

std::string runtime_range(double lo, double hi) {
  if (lo > hi) return "runtime absent";
  return fmt::format("runtime {:.4g}..{:.4g}", lo, hi);
}

std::string top_opcodes(const std::array<int64_t, kNumOpcodes>& counts, int64_t total) {
  std::vector<int> codes;
  for (int c = 0; c < kNumOpcodes; ++c)
    if (counts[c] > 0) codes.push_back(c);
  std::stable_sort(codes.begin(), codes.end(), [&](int a, int b) { return counts[a] > counts[b]; });
  std::string out;
  for (size_t i = 0; i < codes.size() && i < 10; ++i)
    out += fmt::format("{}{}:{} ({:.1f}%)", i ? "  " : "", codes[i], counts[codes[i]],
                       100.0 * counts[codes[i]] / std::max<int64_t>(1, total));
  return out;
}

std::string graph_line(const Graph& g) {
  std::string line =
      fmt::format("nodes {}  edges {}  configs {}", g.num_nodes, g.num_edges(), g.num_configs());
  if (g.task == Task::Layout)
    line += fmt::format("  configurable {} ({:.1f}%)", g.num_config_nodes(),
                        100.0 * g.num_config_nodes() / g.num_nodes);
  double lo = INFINITY, hi = -INFINITY;
  if (g.has_runtime)
    for (double r : g.runtime) lo = std::min(lo, r), hi = std::max(hi, r);
  return line + "  " + runtime_range(lo, hi);
}

// A single file's task: from --collection, else from which config key it holds.
Task file_task(const InspectArgs& args) {
  if (!args.collection.empty()) return parse_collection_name(args.collection).task;
  NpzReader reader(args.path);
  if (reader.has("node_config_feat")) return Task::Layout;
  if (reader.has("config_feat")) return Task::Tile;
  input_error("{}: neither 'node_config_feat' (layout) nor 'config_feat' (tile) is present",
              args.path.string());
}

void inspect_file(const InspectArgs& args) {
  GraphReadOptions options;
  options.runtime_optional = true;
  Graph g = read_graph(args.path, file_task(args), options);
  std::cout << fmt::format("{} ({}): {}\n", args.path.string(), to_string(g.task), graph_line(g));
  Summary s;
  s.add(g);
  if (!g.node_splits.empty()) std::cout << "  node_splits: " << g.node_splits.size() << "\n";
  std::cout << "  opcodes (top 10): " << top_opcodes(s.opcodes, s.nodes) << "\n";
}

void inspect_collection(const InspectArgs& args) {
  Collection c = Collection::open(args.path, args.collection);
  std::cout << fmt::format("collection {} at {}\n", c.name().str(), c.dir().string());
  std::vector<SkippedFile> bad;
  for (const auto& split : split_names()) {
    Summary s;
    for (const GraphFile& file : c.files(split)) {
      std::optional<Graph> g = c.load(file, args.skip_bad, &bad);
      if (!g) {
        std::cout << fmt::format("  {}/{}: INVALID: {}\n", split, file.id, bad.back().reason);
        continue;
      }
      s.add(*g);
      std::cout << fmt::format("  {}/{}: {}\n", split, file.id, graph_line(*g));
    }
    if (s.graphs == 0) {
      std::cout << fmt::format("{}: no valid graphs\n", split);
      continue;
    }
    std::cout << fmt::format(
        "{}: {} graphs  nodes {}..{} (mean {:.0f})  edges {}  configs {} (mean {:.1f})", split,
        s.graphs, s.min_nodes, s.max_nodes, double(s.nodes) / s.graphs, s.edges, s.configs,
        double(s.configs) / s.graphs);
    if (c.name().task == Task::Layout)
      std::cout << fmt::format("  configurable {:.1f}%", 100.0 * s.config_nodes / s.nodes);
    std::cout << "  " << runtime_range(s.min_runtime, s.max_runtime) << "\n";
    std::cout << "  opcodes (top 10): " << top_opcodes(s.opcodes, s.nodes) << "\n";
  }
  if (!bad.empty()) {
    std::string list;
    for (const auto& b : bad) list += "\n  " + b.reason;
    input_error("{} invalid graph file(s) in {}:{}", bad.size(), c.dir().string(), list);
  }
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand(
      "inspect", "validate .npz graph files and print per-graph and per-split summaries");
  cmd->add_option("path", args->path, "a graph .npz, a collection directory or a dataset root")
      ->required();
  cmd->add_option("--collection", args->collection,
                  "collection name (default: inferred from the path or the file's keys)")
      ->check(CLI::IsMember(collection_names()));
  cmd->add_flag("--skip-bad", args->skip_bad,
                "list every invalid file and go on (still exits 1 if any was invalid)");
  cmd->callback([args] {
    std::error_code ec;
    if (std::filesystem::is_directory(args->path, ec))
      inspect_collection(*args);
    else
      inspect_file(*args);
  });
}

}  // namespace gst
