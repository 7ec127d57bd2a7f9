#include "comm/distributed_history_table.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>

#include "common/errors.h"

namespace gst {

namespace {

constexpr char kMagic[8] = {'G', 'S', 'T', 'H', 'I', 'S', 'T', '\0'};
constexpr uint32_t kVersion = 1;

// Appends plain values to a byte buffer.
class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& out) : out_(out) {}
  template <typename T>
  void put(const T& value) {
    put_bytes(&value, sizeof(T));
  }
  void put_bytes(const void* data, size_t bytes) {
    const auto* p = static_cast<const uint8_t*>(data);
    out_.insert(out_.end(), p, p + bytes);
  }

 private:
  std::vector<uint8_t>& out_;
};

// Reads plain values from a byte buffer received from another rank; overruns are a bug.
class Reader {
 public:
  explicit Reader(const std::vector<uint8_t>& in) : in_(in) {}
  template <typename T>
  T get() {
    T value;
    get_bytes(&value, sizeof(T));
    return value;
  }
  void get_bytes(void* data, size_t bytes) {
    GST_CHECK(pos_ + bytes <= in_.size(), "history table message of {} bytes ends early",
              in_.size());
    std::memcpy(data, in_.data() + pos_, bytes);
    pos_ += bytes;
  }
  const uint8_t* take(size_t bytes) {
    GST_CHECK(pos_ + bytes <= in_.size(), "history table message of {} bytes ends early",
              in_.size());
    pos_ += bytes;
    return in_.data() + pos_ - bytes;
  }
  bool done() const { return pos_ == in_.size(); }

 private:
  const std::vector<uint8_t>& in_;
  size_t pos_ = 0;
};

void put_key(Writer& w, const HistoryKey& k) {
  w.put(k.graph);
  w.put(k.config);
  w.put(k.segment);
}

HistoryKey get_key(Reader& r) {
  HistoryKey k;
  k.graph = r.get<int64_t>();
  k.config = r.get<int64_t>();
  k.segment = r.get<int64_t>();
  return k;
}

uint64_t mix(uint64_t x) {  // splitmix64's finalizer: spreads keys evenly over ranks
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

DistributedHistoryTable::DistributedHistoryTable(Communicator& comm, int64_t dim,
                                                 DistributedHistoryOptions options)
    : comm_(comm), dim_(dim), options_(options) {
  GST_CHECK(dim > 0, "history table dim must be positive, got {}", dim);
  GST_CHECK(options.max_entries >= 0, "history max_entries must be >= 0, got {}",
            options.max_entries);
}

namespace {
double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace

int DistributedHistoryTable::owner(const HistoryKey& key, int ranks) {
  return static_cast<int>(mix(HistoryKeyHash()(key)) % static_cast<uint64_t>(ranks));
}

std::vector<std::vector<uint8_t>> DistributedHistoryTable::exchange(
    const std::vector<std::vector<uint8_t>>& send) {
  auto recv = comm_.all_to_all(send);
  int64_t bytes = 0;
  for (int r = 0; r < comm_.size(); ++r)
    if (r != comm_.rank()) bytes += send[r].size() + recv[r].size();
  last_call_bytes_ += bytes;
  stats_.bytes_exchanged += bytes;
  return recv;
}

void DistributedHistoryTable::pull(const std::vector<HistoryKey>& keys, int64_t step, float* out,
                                   std::vector<uint8_t>& found) {
  const auto start = std::chrono::steady_clock::now();
  const int ranks = comm_.size();
  const size_t row_bytes = dim_ * sizeof(float);
  last_call_bytes_ = 0;
  // Requests: [i64 step][keys], one buffer per owner.
  std::vector<std::vector<size_t>> asked(ranks);
  std::vector<std::vector<uint8_t>> requests(ranks);
  for (size_t i = 0; i < keys.size(); ++i) asked[owner(keys[i], ranks)].push_back(i);
  for (int r = 0; r < ranks; ++r) {
    Writer w(requests[r]);
    w.put(step);
    for (size_t i : asked[r]) put_key(w, keys[i]);
  }
  auto received = exchange(requests);

  // Replies: [u8 found per key][i64 write step per found key][row per found key].
  std::vector<std::vector<uint8_t>> replies(ranks);
  for (int r = 0; r < ranks; ++r) {
    Reader in(received[r]);
    const int64_t at = in.get<int64_t>();
    std::vector<const Entry*> hits;
    std::vector<uint8_t> flags;
    while (!in.done()) {
      auto it = entries_.find(get_key(in));
      const bool fresh = it != entries_.end() && (options_.max_staleness < 0 ||
                                                  at - it->second.step <= options_.max_staleness);
      flags.push_back(fresh);
      if (fresh) hits.push_back(&it->second);
    }
    Writer w(replies[r]);
    w.put_bytes(flags.data(), flags.size());
    for (const Entry* e : hits) w.put(e->step);
    for (const Entry* e : hits) w.put_bytes(&rows_[e->slot * dim_], row_bytes);
  }
  auto answers = exchange(replies);

  found.assign(keys.size(), 0);
  std::fill(out, out + keys.size() * dim_, 0.0f);
  for (int r = 0; r < ranks; ++r) {
    Reader in(answers[r]);
    const uint8_t* flags = in.take(asked[r].size());
    std::vector<int64_t> steps;
    for (size_t j = 0; j < asked[r].size(); ++j)
      if (flags[j]) steps.push_back(in.get<int64_t>());
    size_t hit = 0;
    for (size_t j = 0; j < asked[r].size(); ++j) {
      if (!flags[j]) continue;
      const size_t i = asked[r][j];
      in.get_bytes(out + i * dim_, row_bytes);
      found[i] = 1;
      stats_.hits += 1;
      staleness_sum_ += static_cast<double>(std::max<int64_t>(0, step - steps[hit++]));
    }
  }
  stats_.lookups += keys.size();
  stats_.seconds += seconds_since(start);
}

void DistributedHistoryTable::push(const std::vector<HistoryKey>& keys, const float* values,
                                   int64_t step) {
  const auto start = std::chrono::steady_clock::now();
  const int ranks = comm_.size();
  const size_t row_bytes = dim_ * sizeof(float);
  last_call_bytes_ = 0;
  // Updates: [i64 step] then per key [key][row], one buffer per owner.
  std::vector<std::vector<uint8_t>> updates(ranks);
  for (int r = 0; r < ranks; ++r) Writer(updates[r]).put(step);
  for (size_t i = 0; i < keys.size(); ++i) {
    Writer w(updates[owner(keys[i], ranks)]);
    put_key(w, keys[i]);
    w.put_bytes(values + i * dim_, row_bytes);
  }
  auto received = exchange(updates);
  std::vector<float> row(dim_);
  for (int r = 0; r < ranks; ++r) {  // rank order: the highest rank's value wins
    Reader in(received[r]);
    const int64_t at = in.get<int64_t>();
    while (!in.done()) {
      const HistoryKey key = get_key(in);
      in.get_bytes(row.data(), row_bytes);
      write(key, at, row.data());
    }
  }
  stats_.seconds += seconds_since(start);
}

void DistributedHistoryTable::write(const HistoryKey& key, int64_t step, const float* row) {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (options_.max_entries > 0 && static_cast<int64_t>(entries_.size()) >= options_.max_entries)
      evict_oldest();
    size_t slot;
    if (!free_slots_.empty()) {
      slot = free_slots_.back();
      free_slots_.pop_back();
    } else {
      slot = rows_.size() / dim_;
      rows_.resize(rows_.size() + dim_);
    }
    write_order_.push_back(key);
    it = entries_.emplace(key, Entry{step, slot, std::prev(write_order_.end())}).first;
  } else {
    write_order_.splice(write_order_.end(), write_order_, it->second.written);
    it->second.step = step;
  }
  std::copy(row, row + dim_, rows_.begin() + it->second.slot * dim_);
}

void DistributedHistoryTable::evict_oldest() {
  auto it = entries_.find(write_order_.front());
  free_slots_.push_back(it->second.slot);
  entries_.erase(it);
  write_order_.pop_front();
  stats_.evictions += 1;
}

HistoryStats DistributedHistoryTable::stats() const {
  HistoryStats s = stats_;
  s.mean_staleness = s.hits ? staleness_sum_ / s.hits : 0;
  s.entries = static_cast<int64_t>(entries_.size());
  return s;
}

void DistributedHistoryTable::reset_stats() {
  stats_ = HistoryStats{};
  staleness_sum_ = 0;
}

void DistributedHistoryTable::save(const std::filesystem::path& file) const {
  const auto tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot write history table {}: {}", tmp, std::strerror(errno));
    const int64_t count = static_cast<int64_t>(entries_.size());
    const uint32_t reserved = 0;
    out.write(kMagic, sizeof(kMagic));
    out.write(reinterpret_cast<const char*>(&kVersion), sizeof(kVersion));
    out.write(reinterpret_cast<const char*>(&reserved), sizeof(reserved));
    out.write(reinterpret_cast<const char*>(&dim_), sizeof(dim_));
    out.write(reinterpret_cast<const char*>(&count), sizeof(count));
    for (const HistoryKey& key : write_order_) {
      const Entry& e = entries_.at(key);
      const int64_t fields[4] = {key.graph, key.config, key.segment, e.step};
      out.write(reinterpret_cast<const char*>(fields), sizeof(fields));
      out.write(reinterpret_cast<const char*>(&rows_[e.slot * dim_]), dim_ * sizeof(float));
    }
    out.flush();
    if (!out) fail("cannot write history table {}: {}", tmp, std::strerror(errno));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) fail("cannot rename {} to {}: {}", tmp, file.string(), ec.message());
}

void DistributedHistoryTable::load(const std::vector<std::filesystem::path>& files) {
  struct Loaded {
    int64_t step;
    size_t order;  // file, then position: ties in step keep the saved write order
    HistoryKey key;
    std::vector<float> row;
  };
  std::vector<Loaded> mine;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) input_error("cannot open history table {}: {}", file.string(), std::strerror(errno));
    char magic[8] = {0};
    uint32_t version = 0, reserved = 0;
    int64_t dim = 0, count = 0;
    in.read(magic, sizeof(magic));
    if (!in || std::memcmp(magic, kMagic, sizeof(kMagic)) != 0)
      input_error("{} is not a gst history table (bad magic)", file.string());
    in.read(reinterpret_cast<char*>(&version), sizeof(version));
    in.read(reinterpret_cast<char*>(&reserved), sizeof(reserved));
    in.read(reinterpret_cast<char*>(&dim), sizeof(dim));
    in.read(reinterpret_cast<char*>(&count), sizeof(count));
    if (!in) input_error("{}: history table header is truncated", file.string());
    if (version != kVersion)
      input_error("{}: history table version {}, this gst reads version {}", file.string(), version,
                  kVersion);
    if (dim != dim_)
      input_error("{}: history table rows have dim {}, the model uses {}", file.string(), dim,
                  dim_);
    if (count < 0) input_error("{}: negative entry count {}", file.string(), count);
    std::vector<float> row(dim_);
    for (int64_t i = 0; i < count; ++i) {
      int64_t fields[4];
      in.read(reinterpret_cast<char*>(fields), sizeof(fields));
      in.read(reinterpret_cast<char*>(row.data()), dim_ * sizeof(float));
      if (!in)
        input_error("{} is truncated: entry {} of {} is incomplete", file.string(), i, count);
      const HistoryKey key{fields[0], fields[1], fields[2]};
      if (owner(key, comm_.size()) == comm_.rank())
        mine.push_back({fields[3], mine.size(), key, row});
    }
    if (in.peek() != std::char_traits<char>::eof())
      input_error("{} has bytes after its {} entries", file.string(), count);
  }
  std::sort(mine.begin(), mine.end(), [](const Loaded& a, const Loaded& b) {
    return a.step != b.step ? a.step < b.step : a.order < b.order;
  });
  entries_.clear();
  write_order_.clear();
  rows_.clear();
  free_slots_.clear();
  for (const auto& e : mine) write(e.key, e.step, e.row.data());
}

}  // namespace gst
