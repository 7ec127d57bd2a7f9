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
                                           int workers)
    : layout_(layout), level_(level), workers_(std::max(workers, 1)) {
  int64_t first = 0;
  for (size_t s = 0; s < layout.segment_config_nodes.size(); ++s) {
    int64_t m = layout.segment_config_nodes[s];
    if (m > 0) {
      Segment seg;
      std::string path = schema::segment_path(layout.split, layout.id, static_cast<int64_t>(s)) +
                         "/" + schema::kConfigFeat;
      seg.dataset = h5::Handle(GST_H5(H5Dopen2(file, path.c_str(), H5P_DEFAULT)));
      seg.m = m;
      seg.first = first;
      // The chunk rows encode_dataset gives [C, m, 18]: never more than C.
      seg.chunk_rows = std::min(config_chunk_rows(m), std::max<int64_t>(layout.num_configs, 1));
      seg.pending.resize(seg.chunk_rows * m * kLayoutConfigDim);
      segments_.push_back(std::move(seg));
    }
    first += m;
  }
  GST_CHECK(first == layout.num_config_nodes, "graph {}: segments hold {} of {} config nodes",
            layout.id, first, layout.num_config_nodes);
}

void StreamedConfigWriter::encode_pending(Segment& seg, size_t index,
                                          std::vector<Chunk>* out) const {
  const size_t row_bytes = seg.m * kLayoutConfigDim * sizeof(float);
  out->push_back({index, seg.next_chunk++,
                  encode_chunk(reinterpret_cast<const uint8_t*>(seg.pending.data()),
                               seg.pending_rows * row_bytes, seg.chunk_rows * row_bytes,
                               sizeof(float), level_)});
  seg.pending_rows = 0;
}

void StreamedConfigWriter::gather(Segment& seg, size_t index, const float* block, int64_t configs,
                                  std::vector<Chunk>* out) const {
  const int64_t M = layout_.num_config_nodes, D = kLayoutConfigDim;
  const int64_t* order = layout_.config_node_order.data() + seg.first;
  for (int64_t c = 0; c < configs; ++c) {
    float* row = seg.pending.data() + seg.pending_rows * seg.m * D;
    const float* source = block + c * M * D;
    for (int64_t k = 0; k < seg.m; ++k)
      std::memcpy(row + k * D, source + order[k] * D, D * sizeof(float));
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
  for (const Chunk* c : all) {
    const Segment& seg = segments_[c->segment];
    write_chunk(seg.dataset, 3, seg.chunk_rows, c->index, c->bytes);
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
}

}  // namespace gst
