// DistributedHistoryTable on every world size: against a single-process reference under random
// pull/push patterns, max_staleness, eviction, byte accounting, and save/load re-sharding.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <unordered_map>

#include "comm/distributed_history_table.h"
#include "comm/mpi_communicator.h"
#include "common/errors.h"
#include "test_support.h"

namespace gst {
namespace {

using testing::world;

struct RefEntry {
  int64_t step;
  std::vector<float> row;
};
using RefMap = std::unordered_map<HistoryKey, RefEntry, HistoryKeyHash>;

// One rank's operations in one step, drawn from an RNG that every rank seeds alike, so every rank
// knows what all ranks do and can maintain the reference.
struct RankOps {
  std::vector<HistoryKey> pulls, pushes;
  std::vector<float> values;
};

HistoryKey random_key(std::mt19937_64& rng) {
  return {static_cast<int64_t>(rng() % 6), static_cast<int64_t>(rng() % 9) - 1,
          static_cast<int64_t>(rng() % 5)};
}

RankOps random_ops(std::mt19937_64& rng, int64_t dim) {
  RankOps ops;
  const size_t pulls = rng() % 4 == 0 ? 0 : rng() % 40;  // sometimes nothing at all
  for (size_t i = 0; i < pulls; ++i) ops.pulls.push_back(random_key(rng));
  const size_t pushes = rng() % 4 == 0 ? 0 : rng() % 20;
  for (size_t i = 0; i < pushes; ++i) ops.pushes.push_back(random_key(rng));
  std::uniform_real_distribution<float> value(-1, 1);
  for (size_t i = 0; i < pushes * dim; ++i) ops.values.push_back(value(rng));
  return ops;
}

// The table's documented order: ranks in order, keys in order, so later writes win.
void apply_pushes(RefMap& ref, const std::vector<RankOps>& ops, int64_t step, int64_t dim) {
  for (const auto& rank_ops : ops)
    for (size_t i = 0; i < rank_ops.pushes.size(); ++i)
      ref[rank_ops.pushes[i]] = {step, std::vector<float>(rank_ops.values.begin() + i * dim,
                                                          rank_ops.values.begin() + (i + 1) * dim)};
}

TEST(DistributedHistoryTable, MatchesReferenceUnderRandomPullsAndPushes) {
  auto& comm = world();
  const int64_t dim = 5;
  DistributedHistoryTable table(comm, dim);
  RefMap ref;
  std::mt19937_64 rng(42);
  int64_t lookups = 0, hits = 0;
  double staleness = 0;
  for (int64_t step = 1; step <= 60; ++step) {
    std::vector<RankOps> ops;
    for (int r = 0; r < comm.size(); ++r) ops.push_back(random_ops(rng, dim));
    const RankOps& mine = ops[comm.rank()];

    std::vector<float> out(mine.pulls.size() * dim, -7.0f);
    std::vector<uint8_t> found;
    table.pull(mine.pulls, step, out.data(), found);
    ASSERT_EQ(found.size(), mine.pulls.size());
    for (size_t i = 0; i < mine.pulls.size(); ++i) {
      auto it = ref.find(mine.pulls[i]);
      ASSERT_EQ(found[i], it != ref.end()) << "step " << step << " key " << i;
      const std::vector<float> want = it != ref.end() ? it->second.row : std::vector<float>(dim);
      ASSERT_EQ(0, std::memcmp(out.data() + i * dim, want.data(), dim * sizeof(float)))
          << "step " << step << " key " << i;
      if (found[i]) {
        ++hits;
        staleness += step - it->second.step;
      }
    }
    lookups += mine.pulls.size();

    table.push(mine.pushes, mine.values.data(), step);
    apply_pushes(ref, ops, step, dim);
  }
  const HistoryStats stats = table.stats();
  EXPECT_EQ(stats.lookups, lookups);
  EXPECT_EQ(stats.hits, hits);
  EXPECT_NEAR(stats.mean_staleness, hits ? staleness / hits : 0, 1e-9);
  EXPECT_EQ(comm.scalar_sum(static_cast<double>(stats.entries)), ref.size());
  EXPECT_EQ(stats.evictions, 0);
  EXPECT_EQ(stats.bytes_exchanged > 0, comm.size() > 1);
  table.reset_stats();
  EXPECT_EQ(table.stats().lookups, 0);
  EXPECT_EQ(table.stats().entries, stats.entries);
}

TEST(DistributedHistoryTable, MaxStalenessTreatsOldEntriesAsMissing) {
  auto& comm = world();
  DistributedHistoryTable table(comm, 3, {/*max_staleness=*/2, 0});
  const std::vector<HistoryKey> keys = {{1, 0, 0}, {2, -1, 3}, {3, 4, 1}};
  const std::vector<float> values = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const bool pusher = comm.rank() == comm.size() - 1;
  table.push(pusher ? keys : std::vector<HistoryKey>{}, values.data(), 10);
  std::vector<float> out(9);
  std::vector<uint8_t> found;
  for (int64_t step : {10, 11, 12, 13, 20}) {
    table.pull(keys, step, out.data(), found);
    const bool fresh = step - 10 <= 2;
    for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(found[i], fresh) << "step " << step;
    EXPECT_EQ(out, fresh ? values : std::vector<float>(9)) << "step " << step;
  }
  const HistoryStats stats = table.stats();
  EXPECT_EQ(stats.lookups, 15);
  EXPECT_EQ(stats.hits, 9);
  EXPECT_DOUBLE_EQ(stats.hit_rate(), 9.0 / 15);
  EXPECT_DOUBLE_EQ(stats.mean_staleness, 1.0);  // staleness 0, 1, 2 per key
}

TEST(DistributedHistoryTable, EvictsLeastRecentlyWrittenPerRank) {
  auto& comm = world();
  const int ranks = comm.size();
  const int64_t cap = 4;
  DistributedHistoryTable table(comm, 2, {-1, cap});
  // Rank 0 writes 40 keys one per step and rewrites key 0 at step 20 (refreshing it).
  std::vector<HistoryKey> order;
  for (int64_t g = 0; g < 40; ++g) {
    HistoryKey key{g, -1, 0};
    const float row[2] = {static_cast<float>(g), 0.5f};
    table.push(comm.rank() == 0 ? std::vector<HistoryKey>{key} : std::vector<HistoryKey>{}, row, g);
    order.push_back(key);
    if (g == 20) {
      table.push(comm.rank() == 0 ? std::vector<HistoryKey>{{0, -1, 0}} : std::vector<HistoryKey>{},
                 row, g);
      order.push_back({0, -1, 0});
    }
  }
  // Reference: per owner, a least-recently-written list of at most `cap` graphs.
  std::map<int, std::vector<int64_t>> kept;  // owner -> graphs, oldest write first
  std::map<int, int64_t> evictions;
  for (const auto& key : order) {
    const int owner = DistributedHistoryTable::owner(key, ranks);
    auto& list = kept[owner];
    auto it = std::find(list.begin(), list.end(), key.graph);
    if (it != list.end()) {
      list.erase(it);
    } else if (static_cast<int64_t>(list.size()) == cap) {
      list.erase(list.begin());
      evictions[owner]++;
    }
    list.push_back(key.graph);
  }
  const int64_t evictions_mine = evictions[comm.rank()];

  std::vector<HistoryKey> all(order.begin(), order.begin() + 40);
  std::vector<float> out(all.size() * 2);
  std::vector<uint8_t> found;
  table.pull(all, 40, out.data(), found);
  for (size_t i = 0; i < all.size(); ++i) {
    const auto& list = kept[DistributedHistoryTable::owner(all[i], ranks)];
    const bool alive = std::find(list.begin(), list.end(), all[i].graph) != list.end();
    EXPECT_EQ(found[i], alive) << "graph " << all[i].graph;
  }
  EXPECT_LE(table.stats().entries, cap);
  EXPECT_EQ(table.stats().evictions, evictions_mine);
  if (ranks == 1) {  // key 0 was refreshed at step 20, so it outlived keys 1..19 but not 36..39
    EXPECT_FALSE(found[0]);
    EXPECT_TRUE(found[39]);
  }
}

TEST(DistributedHistoryTable, CountsBytesSentToAndReceivedFromOtherRanks) {
  auto& comm = world();
  const int ranks = comm.size(), me = comm.rank();
  const int64_t dim = 8;
  DistributedHistoryTable table(comm, dim);
  std::mt19937_64 rng(9);
  std::vector<RankOps> ops;
  for (int r = 0; r < ranks; ++r) ops.push_back(random_ops(rng, dim));
  const int64_t per_key = 3 * 8 + dim * 4;
  int64_t expected = 0;
  for (int r = 0; r < ranks; ++r) {
    if (r == me) continue;
    expected += 2 * 8;  // each message starts with the step, both ways
    for (const auto& k : ops[me].pushes)
      expected += per_key * (DistributedHistoryTable::owner(k, ranks) == r);
    for (const auto& k : ops[r].pushes)
      expected += per_key * (DistributedHistoryTable::owner(k, ranks) == me);
  }
  table.push(ops[me].pushes, ops[me].values.data(), 1);
  EXPECT_EQ(table.last_call_bytes(), expected);
  EXPECT_EQ(table.stats().bytes_exchanged, expected);
}

// The path of rank 0's scratch directory, sent to every rank.
std::string shared_scratch(testing::ScratchDir* dir) {
  std::string path = dir ? dir->path().string() : std::string();
  uint64_t length = path.size();
  world().broadcast(&length, sizeof(length), 0);
  path.resize(length);
  world().broadcast(path.data(), length, 0);
  return path;
}

TEST(DistributedHistoryTable, SaveOnTwoRanksLoadsOnOtherWorldSizes) {
  auto& comm = world();
  std::unique_ptr<testing::ScratchDir> scratch;
  if (comm.rank() == 0) scratch = std::make_unique<testing::ScratchDir>("history");
  const std::filesystem::path dir = shared_scratch(scratch.get());
  const int64_t dim = 4;
  const int saving = std::min(2, comm.size());

  // Reference entries with distinct steps, written by the saving world.
  RefMap ref;
  std::mt19937_64 rng(5);
  std::vector<std::vector<RankOps>> steps;
  for (int64_t step = 1; step <= 12; ++step) {
    std::vector<RankOps> ops;
    for (int r = 0; r < saving; ++r) ops.push_back(random_ops(rng, dim));
    apply_pushes(ref, ops, step, dim);
    steps.push_back(ops);
  }
  std::vector<std::filesystem::path> files;
  for (int r = 0; r < saving; ++r) files.push_back(dir / ("table-rank" + std::to_string(r)));
  if (auto sub = comm.first_ranks(saving)) {
    DistributedHistoryTable table(*sub, dim);
    for (size_t s = 0; s < steps.size(); ++s)
      table.push(steps[s][sub->rank()].pushes, steps[s][sub->rank()].values.data(), s + 1);
    table.save(files[sub->rank()]);
  }
  comm.barrier();

  std::vector<HistoryKey> keys;
  for (const auto& [key, entry] : ref) keys.push_back(key);
  for (int loading : {1, 2, 3, 4}) {
    auto sub = comm.first_ranks(std::min(loading, comm.size()));
    if (!sub) continue;
    SCOPED_TRACE("loading on " + std::to_string(sub->size()) + " ranks");
    DistributedHistoryTable table(*sub, dim, {/*max_staleness=*/0, 0});
    table.load(files);
    EXPECT_EQ(sub->scalar_sum(static_cast<double>(table.stats().entries)), ref.size());
    // Every rank asks for every key at its own write step (found) and one step later (stale).
    for (size_t i = 0; i < keys.size(); ++i) {
      const RefEntry& want = ref.at(keys[i]);
      std::vector<float> out(dim);
      std::vector<uint8_t> found;
      table.pull({keys[i]}, want.step, out.data(), found);
      ASSERT_TRUE(found[0]) << "key " << i;
      EXPECT_EQ(out, want.row) << "key " << i;
      table.pull({keys[i]}, want.step + 1, out.data(), found);
      EXPECT_FALSE(found[0]) << "key " << i << " was saved with a later step";
    }
  }
  comm.barrier();
}

TEST(DistributedHistoryTable, LoadRejectsBadFiles) {
  auto& comm = world();
  testing::ScratchDir dir("history-bad-" + std::to_string(comm.rank()));
  auto solo = MpiCommunicator(MPI_COMM_SELF);
  DistributedHistoryTable table(solo, 4);
  const std::vector<HistoryKey> keys = {{1, 2, 3}, {4, 5, 6}};
  const std::vector<float> rows(8, 1.5f);
  table.push(keys, rows.data(), 3);
  table.save(dir / "good");
  auto expect_error = [&](const std::filesystem::path& file, const std::string& words,
                          int64_t dim = 4) {
    DistributedHistoryTable other(solo, dim);
    try {
      other.load({file});
      ADD_FAILURE() << file << " loaded";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
    }
  };
  expect_error(dir / "good", "dim 4, the model uses 8", 8);
  expect_error(dir / "missing", "cannot open");
  std::ofstream(dir / "magic") << "not a table at all, just text";
  expect_error(dir / "magic", "bad magic");
  const auto size = std::filesystem::file_size(dir / "good");
  std::filesystem::copy_file(dir / "good", dir / "short");
  std::filesystem::resize_file(dir / "short", size - 5);
  expect_error(dir / "short", "truncated");

  DistributedHistoryTable reloaded(solo, 4);
  reloaded.load({dir / "good"});
  std::vector<float> out(8);
  std::vector<uint8_t> found;
  reloaded.pull(keys, 3, out.data(), found);
  EXPECT_EQ(found, (std::vector<uint8_t>{1, 1}));
  EXPECT_EQ(out, rows);
}

}  // namespace
}  // namespace gst
