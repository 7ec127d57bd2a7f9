#include "gst/local_history_table.h"

#include <algorithm>
#include <cstring>
#include <fstream>

#include "common/errors.h"

namespace gst {

namespace {
constexpr char kMagic[8] = {'G', 'S', 'T', 'H', 'I', 'S', 'T', '1'};
}

LocalHistoryTable::LocalHistoryTable(int64_t dim, HistoryTableOptions options)
    : dim_(dim), options_(options) {
  GST_CHECK(dim > 0, "history table dim must be positive, got {}", dim);
}

void LocalHistoryTable::pull(const std::vector<HistoryKey>& keys, int64_t step, float* out,
                             std::vector<uint8_t>& found) {
  found.assign(keys.size(), 0);
  for (size_t i = 0; i < keys.size(); ++i) {
    float* row = out + i * dim_;
    ++lookups_;
    auto it = entries_.find(keys[i]);
    const bool fresh_enough =
        it != entries_.end() &&
        (options_.max_staleness <= 0 || step - it->second.step <= options_.max_staleness);
    if (!fresh_enough) {
      std::fill(row, row + dim_, 0.0f);
      continue;
    }
    std::memcpy(row, it->second.value.data(), dim_ * sizeof(float));
    found[i] = 1;
    ++hits_;
    staleness_sum_ += static_cast<double>(step - it->second.step);
  }
}

void LocalHistoryTable::put(const HistoryKey& key, const float* value, int64_t step) {
  Entry& e = entries_[key];
  if (!e.value.empty()) write_order_.erase(e.order);
  e.value.assign(value, value + dim_);
  e.step = step;
  e.order = next_order_++;
  write_order_.emplace(e.order, key);
  while (options_.max_entries > 0 && static_cast<int64_t>(entries_.size()) > options_.max_entries) {
    auto oldest = write_order_.begin();
    entries_.erase(oldest->second);
    write_order_.erase(oldest);
    ++evictions_;
  }
}

void LocalHistoryTable::push(const std::vector<HistoryKey>& keys, const float* values,
                             int64_t step) {
  for (size_t i = 0; i < keys.size(); ++i) put(keys[i], values + i * dim_, step);
}

HistoryStats LocalHistoryTable::stats() const {
  HistoryStats s;
  s.lookups = lookups_;
  s.hits = hits_;
  s.mean_staleness = hits_ ? staleness_sum_ / hits_ : 0;
  s.entries = static_cast<int64_t>(entries_.size());
  s.evictions = evictions_;
  return s;
}

void LocalHistoryTable::reset_stats() {
  lookups_ = hits_ = 0;
  staleness_sum_ = 0;
}

void LocalHistoryTable::save(const std::filesystem::path& file) const {
  std::vector<HistoryRecord> records;
  records.reserve(entries_.size());
  // Write in write order so a reload reproduces the eviction order.
  for (const auto& [order, key] : write_order_) {
    const Entry& e = entries_.at(key);
    records.push_back({key, e.step, e.value});
  }
  write_history_file(file, dim_, records);
}

void LocalHistoryTable::load(const std::vector<std::filesystem::path>& files) {
  entries_.clear();
  write_order_.clear();
  std::vector<HistoryRecord> all;
  for (const auto& f : files) {
    auto records = read_history_file(f, dim_);
    all.insert(all.end(), std::make_move_iterator(records.begin()),
               std::make_move_iterator(records.end()));
  }
  // Files from several ranks: replay by write step so the newest value of a key wins.
  std::stable_sort(all.begin(), all.end(),
                   [](const HistoryRecord& a, const HistoryRecord& b) { return a.step < b.step; });
  for (const auto& r : all) put(r.key, r.value.data(), r.step);
}

void write_history_file(const std::filesystem::path& file, int64_t dim,
                        const std::vector<HistoryRecord>& records) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) fail("cannot write history table file {}", file.string());
  const int64_t count = static_cast<int64_t>(records.size());
  out.write(kMagic, sizeof kMagic);
  out.write(reinterpret_cast<const char*>(&dim), sizeof dim);
  out.write(reinterpret_cast<const char*>(&count), sizeof count);
  for (const auto& r : records) {
    const int64_t head[4] = {r.key.graph, r.key.config, r.key.segment, r.step};
    out.write(reinterpret_cast<const char*>(head), sizeof head);
    out.write(reinterpret_cast<const char*>(r.value.data()), dim * sizeof(float));
  }
  out.flush();
  if (!out) fail("writing history table file {} failed (disk full?)", file.string());
}

std::vector<HistoryRecord> read_history_file(const std::filesystem::path& file, int64_t dim) {
  std::ifstream in(file, std::ios::binary);
  if (!in) input_error("cannot open history table file {}", file.string());
  char magic[8];
  int64_t file_dim = 0, count = 0;
  in.read(magic, sizeof magic);
  in.read(reinterpret_cast<char*>(&file_dim), sizeof file_dim);
  in.read(reinterpret_cast<char*>(&count), sizeof count);
  if (!in || std::memcmp(magic, kMagic, sizeof kMagic) != 0)
    input_error("{}: not a history table file (bad magic or truncated header)", file.string());
  if (file_dim != dim)
    input_error("{}: history table has embedding dim {}, the model expects {}", file.string(),
                file_dim, dim);
  if (count < 0) input_error("{}: negative entry count {}", file.string(), count);
  std::vector<HistoryRecord> records(static_cast<size_t>(count));
  for (auto& r : records) {
    int64_t head[4];
    in.read(reinterpret_cast<char*>(head), sizeof head);
    r.key = {head[0], head[1], head[2]};
    r.step = head[3];
    r.value.resize(dim);
    in.read(reinterpret_cast<char*>(r.value.data()), dim * sizeof(float));
    if (!in) input_error("{}: truncated history table ({} entries expected)", file.string(), count);
  }
  return records;
}

}  // namespace gst
