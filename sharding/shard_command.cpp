// `gst shard`: a TpuGraphs collection -> HDF5 segment store; `gst shard --verify STORE`.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <memory>
#include <thread>

#include "commands.h"
#include "common/enum_names.h"
#include "common/errors.h"
#include "sharding/shard_collection.h"
#include "sharding/verify.h"

namespace gst {
namespace {

struct ShardArgs {
  std::string input, out, verify, collection, partitioner = "metis";
  std::vector<std::string> splits = {"train", "valid", "test"};
  int64_t memory_mb = 1024;
  int64_t max_configs = -1;  // not given
  ShardOptions options;
};

void run_verify(const std::string& dir) {
  VerifyReport report = verify_store(dir);
  for (const auto& problem : report.problems) fmt::print(stderr, "verify: {}\n", problem);
  if (!report.problems.empty())
    fail("{}: {} problem(s) found in the store", dir, report.problems.size());
  fmt::print("verify: {} ok: {} shards, {} graphs, {} segments, {:.1f} MB\n", dir, report.shards,
             report.graphs, report.segments, report.bytes / 1e6);
}

void run_shard(ShardArgs& args) {
  if (args.input.empty()) throw CLI::RequiredError("--input (or --verify STORE)");
  if (args.out.empty()) throw CLI::RequiredError("--out");
  ShardOptions& o = args.options;
  o.out = args.out;
  o.input = args.input;
  o.splits = args.splits;
  o.memory_bytes = args.memory_mb << 20;
  if (args.max_configs != -1 && args.max_configs < 2)
    input_error("--max-configs must be at least 2, got {}", args.max_configs);
  o.max_configs = std::max<int64_t>(args.max_configs, 0);
  o.partitioner = parse_enum<Partitioner>(args.partitioner, "--partitioner");
  CollectionSource source(args.input, args.collection, args.splits);
  o.collection = source.collection().name().str();
  ShardSummary summary = shard_collection(source, o);
  fmt::print("gst shard: {} -> {} ({} shards, {} K={}): {}\n", o.collection, args.out, o.shards,
             args.partitioner, o.segment_size, summary.line());
}

}  // namespace

void add_shard_command(CLI::App& app) {
  auto args = std::make_shared<ShardArgs>();
  ShardOptions& o = args->options;
  o.shards = 4;
  o.workers = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 8u));
  CLI::App* cmd = app.add_subcommand(
      "shard", "partition a TpuGraphs collection into an HDF5 segment store, or verify a store");
  auto* verify = cmd->add_option("--verify", args->verify,
                                 "re-read the store STORE, check checksums, counts and ranges, "
                                 "report every problem (exit 1 if any)");
  auto* input = cmd->add_option("--input", args->input,
                                "collection directory (.../npz/layout/xla/random) or dataset "
                                "root holding npz/ (then --collection picks one)");
  auto* out = cmd->add_option("--out", args->out, "store directory to write");
  auto* collection = cmd->add_option(
      "--collection", args->collection,
      "collection name (layout:xla:random, ..., tile:xla); inferred from --input when omitted");
  auto* shards = cmd->add_option("--shards", o.shards, "number of shard files")
                     ->capture_default_str()
                     ->check(CLI::Range(1, 100000));
  auto* segment = cmd->add_option("--segment-size", o.segment_size, "K: nodes per segment (max)")
                      ->capture_default_str()
                      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  auto* partitioner = cmd->add_option("--partitioner", args->partitioner,
                                      "contiguous (id ranges, as the reference GST) or metis "
                                      "(k-way minimum edge cut)")
                          ->capture_default_str()
                          ->check(CLI::IsMember(enum_words<Partitioner>()));
  auto* splits = cmd->add_option("--splits", args->splits, "splits to include")
                     ->delimiter(',')
                     ->capture_default_str()
                     ->check(CLI::IsMember({"train", "valid", "test"}));
  auto* workers = cmd->add_option("--workers", o.workers, "threads reading and partitioning")
                      ->capture_default_str()
                      ->check(CLI::Range(1, 256));
  auto* compression = cmd->add_option("--compression", o.compression_level,
                                      "deflate level of the shard arrays (0 = none)")
                          ->capture_default_str()
                          ->check(CLI::Range(0, 9));
  auto* memory = cmd->add_option("--memory-mb", args->memory_mb,
                                 "memory the run may use, workers included (MiB); graphs whose "
                                 "node_config_feat exceeds a share of it are streamed a block of "
                                 "configs at a time")
                     ->capture_default_str()
                     ->check(CLI::Range(int64_t{64}, int64_t{1} << 40));
  auto* max_configs = cmd->add_option(
      "--max-configs", args->max_configs,
      "keep at most N configs per graph: the fastest third, the slowest third and a seeded "
      "random draw from the rest (as the TpuGraphs baseline); recorded in the manifest");
  auto* max_configs_seed = cmd->add_option("--max-configs-seed", o.max_configs_seed,
                                           "seed of the --max-configs draw (with the graph id)")
                               ->capture_default_str();
  auto* skip_bad =
      cmd->add_flag("--skip-bad", o.skip_bad, "skip and count unreadable or invalid input files");
  auto* overwrite = cmd->add_flag("--overwrite", o.overwrite, "replace an existing store at --out");
  for (auto* option : {input, out, collection, shards, segment, partitioner, splits, workers,
                       compression, memory, max_configs, max_configs_seed, skip_bad, overwrite})
    verify->excludes(option);
  cmd->callback([args] {
    if (!args->verify.empty())
      run_verify(args->verify);
    else
      run_shard(*args);
  });
}

}  // namespace gst
