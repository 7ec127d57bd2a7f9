#include "gst/gst_step.h"

#include <algorithm>

#include "common/errors.h"
#include "gst/sampling.h"
#include "model/losses.h"
#include "model/segment_batch.h"

namespace gst {

torch::Tensor RankingLoss::operator()(const torch::Tensor& scores,
                                      const torch::Tensor& runtimes) const {
  if (kind == "listmle") return listmle_loss(scores, runtimes);
  return pairwise_hinge_loss(scores, runtimes, margin);
}

GstStep::GstStep(CostModel model, const SegmentStore& store, HistoryTable* table, GstConfig config,
                 RankingLoss loss, torch::Device device, int64_t max_batch_nodes)
    : model_(model),
      store_(store),
      table_(table),
      config_(std::move(config)),
      loss_(std::move(loss)),
      device_(device),
      embedder_(model, store, device, max_batch_nodes) {
  GST_CHECK(config_.mode != "gst" || table_ != nullptr, "gst mode needs a history table");
}

const GraphConfigs& GstStep::configs_of(int64_t graph) {
  auto it = configs_cache_.find(graph);
  if (it == configs_cache_.end())
    it = configs_cache_.emplace(graph, store_.load_configs(graph)).first;
  return it->second;
}

std::vector<GraphSample> GstStep::sample(const std::vector<int64_t>& graphs, std::mt19937_64& rng) {
  std::vector<GraphSample> out;
  for (int64_t g : graphs) {
    const GraphConfigs& c = configs_of(g);
    GraphSample s;
    s.graph = g;
    s.configs = sample_configs(static_cast<int64_t>(c.runtime.size()), config_.configs_per_graph,
                               config_.config_bias, c.runtime, rng);
    if (config_.mode != "full_graph")
      s.train_segments =
          sample_segments(store_.graphs().at(g).num_segments(), config_.segments_per_graph, rng);
    out.push_back(std::move(s));
  }
  return out;
}

torch::Tensor GstStep::tile_config(const std::vector<GraphSample>& samples) {
  if (model_->task() != Task::Tile) return {};
  const int64_t k = static_cast<int64_t>(samples.front().configs.size());
  auto out = torch::empty({static_cast<int64_t>(samples.size()), k, kTileConfigDim});
  float* p = out.data_ptr<float>();
  for (const auto& s : samples) {
    const GraphConfigs& c = configs_of(s.graph);
    for (int64_t cfg : s.configs) {
      std::copy_n(c.tile_feat.data() + cfg * kTileConfigDim, kTileConfigDim, p);
      p += kTileConfigDim;
    }
  }
  return out.to(device_);  // [G, K, 24]
}

torch::Tensor GstStep::rank_loss(const torch::Tensor& scores,
                                 const std::vector<GraphSample>& samples) {
  const int64_t k = scores.size(1);
  auto runtimes = torch::empty({static_cast<int64_t>(samples.size()), k}, torch::kFloat64);
  double* p = runtimes.data_ptr<double>();
  for (const auto& s : samples) {
    const GraphConfigs& c = configs_of(s.graph);
    for (int64_t cfg : s.configs)
      *p++ = c.normalizer.empty() ? c.runtime[cfg] : c.runtime[cfg] / c.normalizer[cfg];
  }
  counts_.graphs += scores.size(0);
  counts_.graph_configs += scores.numel();
  return loss_(scores, runtimes.to(torch::kFloat32).to(device_));  // runtimes: [G, K]
}

torch::Tensor GstStep::full_graph_embeddings(const std::vector<GraphSample>& samples) {
  const Task task = model_->task();
  const int64_t k = static_cast<int64_t>(samples.front().configs.size());
  std::vector<Segment> graphs;
  for (const auto& s : samples) graphs.push_back(store_.load_graph(s.graph, s.configs));
  std::vector<const Segment*> ptrs;
  for (const auto& g : graphs) ptrs.push_back(&g);
  auto emb = model_->segment_embeddings(make_segment_batch(ptrs, task, k, device_));
  counts_.trained_segments += static_cast<int64_t>(samples.size());
  return emb.expand({emb.size(0), k, emb.size(2)});  // [G, K, D]
}

torch::Tensor GstStep::segment_embeddings(const std::vector<GraphSample>& samples, int64_t step,
                                          std::mt19937_64& rng) {
  const Task task = model_->task();
  const bool layout = task == Task::Layout;
  const int64_t k = static_cast<int64_t>(samples.front().configs.size());
  const int64_t k_emb = layout ? k : 1;  // configs per embedding row

  // Trained segments of every graph in one batch.
  std::vector<Segment> trained;
  for (const auto& s : samples)
    for (int64_t seg : s.train_segments)
      trained.push_back(store_.load_segment(s.graph, seg, s.configs));
  std::vector<const Segment*> ptrs;
  for (const auto& t : trained) ptrs.push_back(&t);
  torch::Tensor fresh = model_->segment_embeddings(make_segment_batch(ptrs, task, k, device_));
  const int64_t dim = fresh.size(2);  // fresh: [T, K', D]
  counts_.trained_segments += fresh.size(0);

  auto keys_of = [&](const GraphSample& s, int64_t seg, std::vector<HistoryKey>& keys) {
    if (!layout) {
      keys.push_back({s.graph, -1, seg});
      return;
    }
    for (int64_t cfg : s.configs) keys.push_back({s.graph, cfg, seg});
  };

  if (config_.mode == "gst") {
    torch::Tensor rows = fresh.detach().to(torch::kCPU).reshape({-1, dim});
    for (const auto& s : samples)
      for (int64_t seg : s.train_segments) keys_of(s, seg, push_keys_);
    push_rows_.push_back(rows);
  }

  // Stale segments: every segment not trained this step, pulled in one call.
  std::vector<std::vector<int64_t>> stale(samples.size());
  std::vector<HistoryKey> keys;
  for (size_t i = 0; i < samples.size(); ++i) {
    const GraphSample& s = samples[i];
    if (config_.mode != "gst") break;
    for (int64_t seg = 0; seg < store_.graphs().at(s.graph).num_segments(); ++seg) {
      if (std::binary_search(s.train_segments.begin(), s.train_segments.end(), seg)) continue;
      stale[i].push_back(seg);
      keys_of(s, seg, keys);
    }
  }
  torch::Tensor pulled = torch::zeros({static_cast<int64_t>(keys.size()), dim});  // [n_keys, D]
  std::vector<uint8_t> found;
  if (config_.mode == "gst") table_->pull(keys, step, pulled.data_ptr<float>(), found);

  std::vector<torch::Tensor> graph_emb;
  int64_t fresh_row = 0, key_row = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    const GraphSample& s = samples[i];
    const int64_t segments = store_.graphs().at(s.graph).num_segments();
    const int64_t t = static_cast<int64_t>(s.train_segments.size());
    torch::Tensor emb = fresh.narrow(0, fresh_row, t).sum(0);  // [K', D]
    fresh_row += t;
    if (config_.mode == "segment_only") {
      emb = model_->config().combine == "mean" ? emb / static_cast<double>(t)
                                               : emb * (static_cast<double>(segments) / t);
    } else {
      const int64_t n = static_cast<int64_t>(stale[i].size());
      torch::Tensor block = pulled.narrow(0, key_row, n * k_emb).view({n, k_emb, dim});
      std::mt19937_64 own_rng;
      if (s.sed_seed) own_rng = seeded_rng({*s.sed_seed, 0x5E});
      std::vector<float> scales =
          stale_dropout_scales(n, config_.sed_p, s.sed_seed ? own_rng : rng);
      std::vector<SegmentRef> missing;
      std::vector<int64_t> missing_pos;
      for (int64_t j = 0; j < n; ++j) {
        const uint8_t* f = found.data() + key_row + j * k_emb;
        if (std::all_of(f, f + k_emb, [](uint8_t x) { return x != 0; })) continue;
        if (config_.missing == "drop") {
          scales[j] = 0;
        } else {
          missing.push_back({s.graph, stale[i][j]});
          missing_pos.push_back(j);
        }
      }
      if (!missing.empty()) {
        torch::Tensor computed = embedder_.embed(missing, s.configs).to(torch::kCPU);
        for (size_t m = 0; m < missing.size(); ++m) {
          block[missing_pos[m]].copy_(computed[m]);
          keys_of(s, missing[m].segment, push_keys_);
        }
        push_rows_.push_back(computed.reshape({-1, dim}));
        counts_.computed_missing += static_cast<int64_t>(missing.size());
      }
      key_row += n * k_emb;
      counts_.stale_segments += n;
      counts_.dropped += std::count(scales.begin(), scales.end(), 0.0f);
      if (n > 0) {
        auto mask = torch::from_blob(scales.data(), {n, 1, 1}).clone();
        emb = emb + (block * mask).sum(0).to(device_);
      }
      if (model_->config().combine == "mean") emb = emb / static_cast<double>(segments);
    }
    graph_emb.push_back(emb.expand({k, dim}));
  }
  return torch::stack(graph_emb);  // [G, K, D]
}

torch::Tensor GstStep::loss(const std::vector<GraphSample>& samples, int64_t step,
                            std::mt19937_64& rng) {
  GST_CHECK(!samples.empty(), "a step needs at least one graph");
  push_keys_.clear();
  push_rows_.clear();
  torch::Tensor emb = config_.mode == "full_graph" ? full_graph_embeddings(samples)
                                                   : segment_embeddings(samples, step, rng);
  return rank_loss(model_->head(emb, tile_config(samples)), samples);
}

void GstStep::push_fresh(int64_t step) {
  if (config_.mode != "gst") return;
  const int64_t dim = table_->dim();
  torch::Tensor rows =
      push_rows_.empty() ? torch::zeros({0, dim}) : torch::cat(push_rows_, 0).contiguous();
  GST_CHECK(rows.size(0) == static_cast<int64_t>(push_keys_.size()),
            "history push: {} rows for {} keys", rows.size(0), push_keys_.size());
  table_->push(push_keys_, rows.data_ptr<float>(), step);
  push_keys_.clear();
  push_rows_.clear();
}

torch::Tensor GstStep::head_loss(const std::vector<GraphSample>& samples) {
  const int64_t k = static_cast<int64_t>(samples.front().configs.size());
  std::vector<torch::Tensor> emb;
  model_->eval();
  for (const auto& s : samples) {
    torch::Tensor g = embedder_.graph_embedding(s.graph, s.configs, config_.mode == "full_graph");
    emb.push_back(g.expand({k, g.size(1)}));
    counts_.trained_segments += store_.graphs().at(s.graph).num_segments();
  }
  model_->train();
  return rank_loss(model_->head(torch::stack(emb), tile_config(samples)), samples);
}

}  // namespace gst
