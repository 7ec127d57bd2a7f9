#include "sharding/streamed_config.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <thread>

#include "common/errors.h"
#include "sharding/shard_writer.h"
#include "store/chunk_codec.h"
#include "store/schema.h"

namespace gst {

StreamedLayout StreamedLayout::of(const SegmentedGraph& g) {
  StreamedLayout out;
  out.id = g.id;
  out.split = g.split;
  out.num_configs = g.num_configs;
  out.num_config_nodes = g.num_config_nodes;
  out.config_node_order = g.config_node_order;
  for (const auto& seg : g.segments)
    out.segment_config_nodes.push_back(static_cast<int64_t>(seg.config_nodes.size()));
  return out;
}

StreamedConfigWriter::StreamedConfigWriter(hid_t file, const StreamedLayout& layout, int level,
                                           int workers, bool int8)
    : file_(file),
      layout_(layout),
      level_(level),
      workers_(std::max(workers, 1)),
      element_size_(int8 ? sizeof(int8_t) : sizeof(float)) {
  const int64_t C = layout.num_configs;
  int64_t first = 0;
  for (size_t s = 0; s < layout.segment_config_nodes.size(); ++s) {
    int64_t m = layout.segment_config_nodes[s];
    if (m > 0) {
      Segment seg;
      const std::string group_path =
          schema::segment_path(layout.split, layout.id, static_cast<int64_t>(s));
      EncodedDataset empty =
          int8 ? chunked_dataset<int8_t>(schema::kConfigFeat, {C, m, kLayoutConfigDim},
                                         config_chunk_rows(m), level)
               : chunked_dataset<float>(schema::kConfigFeat, {C, m, kLayoutConfigDim},
                                        config_chunk_rows(m), level);
      h5::Handle group(GST_H5(H5Gopen2(file, group_path.c_str(), H5P_DEFAULT)));
      write_encoded(group, empty);
      seg.path = group_path + "/" + schema::kConfigFeat;
      seg.places = create_chunk_places(group, schema::kConfigFeat,
                                       (C + empty.chunk_rows - 1) / empty.chunk_rows);
      seg.dataset = h5::Handle(GST_H5(H5Dopen2(file, seg.path.c_str(), H5P_DEFAULT)));
      seg.m = m;
      seg.first = first;
      seg.chunk_rows = empty.chunk_rows;
      seg.pending.resize(seg.chunk_rows * m * kLayoutConfigDim * element_size_);
      segments_.push_back(std::move(seg));
    }
    first += m;
  }
  GST_CHECK(first == layout.num_config_nodes, "graph {}: segments hold {} of {} config nodes",
            layout.id, first, layout.num_config_nodes);
}

void StreamedConfigWriter::encode_pending(Segment& seg, size_t index,
                                          std::vector<Chunk>* out) const {
  const size_t row_bytes = seg.m * kLayoutConfigDim * element_size_;
  out->push_back({index, seg.next_chunk++,
                  encode_chunk(seg.pending.data(), seg.pending_rows * row_bytes,
                               seg.chunk_rows * row_bytes, element_size_, level_)});
  seg.pending_rows = 0;
}

void StreamedConfigWriter::gather(Segment& seg, size_t index, const float* block, int64_t configs,
                                  std::vector<Chunk>* out) const {
  const int64_t M = layout_.num_config_nodes, D = kLayoutConfigDim;
  const int64_t* order = layout_.config_node_order.data() + seg.first;
  const size_t row_bytes = seg.m * D * element_size_;
  for (int64_t c = 0; c < configs; ++c) {
    uint8_t* row = seg.pending.data() + seg.pending_rows * row_bytes;
    const float* source = block + c * M * D;
    if (element_size_ == sizeof(float)) {
      for (int64_t k = 0; k < seg.m; ++k)
        std::memcpy(row + k * D * sizeof(float), source + order[k] * D, D * sizeof(float));
    } else {
      for (int64_t k = 0; k < seg.m; ++k)
        if (!narrow_to_int8(source + order[k] * D, D, reinterpret_cast<int8_t*>(row) + k * D))
          throw NotInt8Codes(fmt::format(
              "config {} of configurable node {} holds a value that is not an integer in "
              "[-128, 127]",
              received_ - configs + c, order[k]));
    }
    if (++seg.pending_rows == seg.chunk_rows) encode_pending(seg, index, out);
  }
}

void StreamedConfigWriter::write(std::vector<std::vector<Chunk>>& chunks) {
  // Segment by segment, chunk by chunk: the same order for any number of workers.
  std::vector<const Chunk*> all;
  for (const auto& part : chunks)
    for (const auto& c : part) all.push_back(&c);
  std::sort(all.begin(), all.end(), [](const Chunk* a, const Chunk* b) {
    return a->segment != b->segment ? a->segment < b->segment : a->index < b->index;
  });
  for (size_t i = 0; i < all.size();) {  // one run of chunks per segment
    const size_t segment = all[i]->segment;
    Segment& seg = segments_[segment];
    const int64_t first = all[i]->index;
    std::vector<h5::ChunkPlace> places;
    for (; i < all.size() && all[i]->segment == segment; ++i) {
      GST_CHECK(all[i]->index == first + static_cast<int64_t>(places.size()),
                "graph {}: chunk {} of a segment out of order", layout_.id, all[i]->index);
      places.push_back(write_chunk(seg.dataset, 3, seg.chunk_rows, all[i]->index, all[i]->bytes));
    }
    seg.places_known = seg.places_known && write_chunk_places(seg.places, first, places);
  }
  chunks.clear();
}

void StreamedConfigWriter::add(const float* block, int64_t configs) {
  GST_CHECK(received_ + configs <= layout_.num_configs, "graph {}: more than {} configs",
            layout_.id, layout_.num_configs);
  received_ += configs;
  const int threads = static_cast<int>(
      std::min<size_t>(static_cast<size_t>(workers_), std::max<size_t>(segments_.size(), 1)));
  std::vector<std::vector<Chunk>> chunks(threads);
  std::vector<std::exception_ptr> errors(threads);
  auto work = [&](int t) {
    try {
      for (size_t s = t; s < segments_.size(); s += threads)
        gather(segments_[s], s, block, configs, &chunks[t]);
    } catch (...) {
      errors[t] = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& t : pool) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  write(chunks);
}

void StreamedConfigWriter::finish() {
  GST_CHECK(received_ == layout_.num_configs, "graph {}: {} of {} configs written", layout_.id,
            received_, layout_.num_configs);
  std::vector<std::vector<Chunk>> chunks(1);
  for (size_t s = 0; s < segments_.size(); ++s)
    if (segments_[s].pending_rows > 0) encode_pending(segments_[s], s, &chunks[0]);
  write(chunks);
  for (auto& seg : segments_) {
    seg.places.reset();
    if (!seg.places_known)
      GST_H5(H5Ldelete(file_, schema::chunk_places_name(seg.path).c_str(), H5P_DEFAULT));
  }
}

void StreamedConfigWriter::discard() {
  for (auto& seg : segments_) {
    seg.dataset.reset();
    seg.places.reset();
    GST_H5(H5Ldelete(file_, seg.path.c_str(), H5P_DEFAULT));
    GST_H5(H5Ldelete(file_, schema::chunk_places_name(seg.path).c_str(), H5P_DEFAULT));
  }
  segments_.clear();
}

}  // namespace gst
