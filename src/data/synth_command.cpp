// `gst synth`: writes a synthetic TpuGraphs collection.
#include <CLI/CLI.hpp>
#include <memory>

#include "commands.h"
#include "common/errors.h"
#include "data/collection.h"
#include "data/synth.h"
#include "data/synth_cost.h"

namespace gst {
namespace {

struct SynthArgs {
  std::string collection;
  std::filesystem::path out;
  int64_t graphs = 20;
  uint64_t seed = 0;
  bool stored = false;
  bool overwrite = false;
  int64_t memory_mb = 1024;
  SynthOptions options;
};

// Refuses to mix a new collection into an old one unless asked; with --overwrite the old graph
// files are removed first.
void prepare_output(const SynthArgs& args) {
  CollectionName name = parse_collection_name(args.collection);
  std::filesystem::path dir = args.out / name.relative_dir();
  std::vector<std::filesystem::path> old;
  for (const auto& split : split_names()) {
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir / split, ec), end; !ec && it != end;
         it.increment(ec))
      if (it->path().extension() == ".npz") old.push_back(it->path());
  }
  if (old.empty()) return;
  if (!args.overwrite)
    input_error("{}: already holds {} graph files; pass --overwrite to replace them", dir.string(),
                old.size());
  for (const auto& p : old) std::filesystem::remove(p);
}

}  // namespace

void add_synth_command(CLI::App& app) {
  auto args = std::make_shared<SynthArgs>();
  CLI::App* cmd = app.add_subcommand(
      "synth",
      "write a synthetic TpuGraphs collection (real layout and dtypes, hidden cost model)");
  SynthOptions& o = args->options;
  cmd->add_option("--collection", args->collection,
                  "layout:xla:random, layout:xla:default, layout:nlp:random, "
                  "layout:nlp:default or tile:xla")
      ->required()
      ->check(CLI::IsMember(collection_names()));
  cmd->add_option("--out", args->out, "dataset root; files go to OUT/npz/<layout|tile>/...")
      ->required();
  cmd->add_option("--graphs", args->graphs, "number of graphs")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  cmd->add_option("--seed", args->seed, "random seed (same seed, same bytes)")
      ->capture_default_str();
  cmd->add_option("--min-nodes", o.min_nodes, "layout: smallest graph (nodes)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{10000000}));
  cmd->add_option("--max-nodes", o.max_nodes, "layout: largest graph (nodes)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{10000000}));
  cmd->add_option("--min-tile-nodes", o.min_tile_nodes, "tile: smallest kernel (nodes)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100000}));
  cmd->add_option("--max-tile-nodes", o.max_tile_nodes, "tile: largest kernel (nodes)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100000}));
  cmd->add_option("--configs", o.configs, "configs per graph")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  cmd->add_option("--min-config-share", o.min_config_share,
                  "layout: smallest share of configurable nodes")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--max-config-share", o.max_config_share,
                  "layout: largest share of configurable nodes")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--cost", o.cost,
                  "cost family, names joined by commas (src/data/synth_cost.h). layout: classic, "
                  "padding, agree, coherent, heavy, relayout, noisy; tile: classic, spill, "
                  "oneshape, noisy")
      ->capture_default_str();
  cmd->add_option("--noise", o.noise, "sigma of the multiplicative runtime noise")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--train-fraction", o.train_fraction, "share of graphs in train/")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--valid-fraction", o.valid_fraction, "share in valid/ (the rest: test/)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--memory-mb", args->memory_mb,
                  "memory for writing one graph (MiB): a layout graph whose node_config_feat "
                  "exceeds a quarter of it is generated and written a block of configs at a time")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{16}, int64_t{1} << 40));
  cmd->add_flag("--stored", args->stored,
                "write uncompressed entries (np.savez) instead of deflate");
  cmd->add_flag("--overwrite", args->overwrite, "replace graph files already in the collection");
  cmd->callback([args] {
    if (args->options.max_nodes < args->options.min_nodes ||
        args->options.max_tile_nodes < args->options.min_tile_nodes)
      input_error("synth: --max-nodes/--max-tile-nodes must be >= --min-nodes/--min-tile-nodes");
    if (args->options.max_config_share < args->options.min_config_share)
      input_error("synth: --max-config-share must be >= --min-config-share");
    args->options.compress = !args->stored;
    args->options.memory_bytes = args->memory_mb << 20;
    // Bad family names fail before any old file is touched.
    synth::parse_cost_family(args->options.cost, parse_collection_name(args->collection).task);
    prepare_output(*args);
    synth_collection(args->collection, args->out, args->graphs, args->seed, args->options);
  });
}

}  // namespace gst
