#include "gst/gst_step.h"

#include <algorithm>

#include "common/errors.h"
#include "gst/sampling.h"
#include "model/losses.h"
#include "model/segment_batch.h"

namespace gst {

torch::Tensor RankingLoss::operator()(const torch::Tensor& scores,
                                      const torch::Tensor& runtimes) const {
  torch::Tensor loss = ranking(scores, runtimes);
  if (slowdown_weight > 0) loss = loss + slowdown_weight * expected_slowdown_loss(scores, runtimes);
  return loss;
}

torch::Tensor RankingLoss::ranking(const torch::Tensor& scores,
                                   const torch::Tensor& runtimes) const {
  switch (kind) {
    case LossKind::ListMle:
      return listmle_loss(scores, runtimes);
    case LossKind::ListMleTop:
      return listmle_loss(scores, runtimes, {}, /*top_weighted=*/true);
    case LossKind::Hinge:
      break;
  }
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
  GST_CHECK(config_.mode != GstMode::Gst || table_ != nullptr, "gst mode needs a history table");
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
    if (config_.mode != GstMode::FullGraph)
      s.train_segments =
          sample_segments(store_.graphs().at(g).num_segments(), config_.segments_per_graph, rng);
    out.push_back(std::move(s));
  }
  return out;
}

torch::Tensor GstStep::tile_config(const GraphSample& sample) {
  if (model_->task() != Task::Tile) return {};
  const int64_t k = static_cast<int64_t>(sample.configs.size());
  std::vector<float> rows = tile_config_rows(configs_of(sample.graph), sample.configs);
  return torch::from_blob(rows.data(), {1, k, kTileConfigDim}).clone().to(device_);  // [1, K, 24]
}

SegmentBatch GstStep::training_batch(const GraphSample& sample,
                                     const std::vector<const Segment*>& segments) {
  std::vector<float> rows;
  std::vector<const float*> tile_feat;
  if (model_->task() == Task::Tile && model_->configs_at_nodes()) {
    rows = tile_config_rows(configs_of(sample.graph), sample.configs);
    tile_feat.assign(segments.size(), rows.data());
  }
  const auto k = static_cast<int64_t>(sample.configs.size());
  return make_segment_batch(segments, model_->task(), k, device_, tile_feat);
}

torch::Tensor GstStep::rank_loss(const torch::Tensor& scores, const GraphSample& sample) {
  const int64_t k = scores.size(1);
  auto runtimes = torch::empty({1, k}, torch::kFloat64);
  double* p = runtimes.data_ptr<double>();
  const GraphConfigs& c = configs_of(sample.graph);
  for (int64_t cfg : sample.configs)
    *p++ = c.normalizer.empty() ? c.runtime[cfg] : c.runtime[cfg] / c.normalizer[cfg];
  counts_.graphs += scores.size(0);
  counts_.graph_configs += scores.numel();
  return loss_(scores, runtimes.to(torch::kFloat32).to(device_));  // runtimes: [1, K]
}

void GstStep::keys_of(const GraphSample& s, int64_t segment, std::vector<HistoryKey>& keys) const {
  if (!model_->configs_at_nodes()) {
    keys.push_back({s.graph, -1, segment});
    return;
  }
  for (int64_t cfg : s.configs) keys.push_back({s.graph, cfg, segment});
}

void GstStep::prepare(const std::vector<GraphSample>& samples, int64_t step, std::mt19937_64& rng) {
  const size_t n_graphs = samples.size();
  samples_ = samples;
  stale_.assign(n_graphs, torch::Tensor());
  fresh_keys_.assign(n_graphs, {});
  missing_keys_.assign(n_graphs, {});
  fresh_rows_.assign(n_graphs, torch::Tensor());
  missing_rows_.assign(n_graphs, torch::Tensor());
  if (config_.mode != GstMode::Gst) return;

  const bool per_config = model_->configs_at_nodes();
  const int64_t dim = model_->embedding_dim();
  // Stale segments: every segment not trained this step, pulled in one call.
  std::vector<std::vector<int64_t>> stale(n_graphs);
  std::vector<HistoryKey> keys;
  for (size_t i = 0; i < n_graphs; ++i) {
    const GraphSample& s = samples[i];
    for (int64_t seg = 0; seg < store_.graphs().at(s.graph).num_segments(); ++seg) {
      if (std::binary_search(s.train_segments.begin(), s.train_segments.end(), seg)) continue;
      stale[i].push_back(seg);
      keys_of(s, seg, keys);
    }
  }
  torch::Tensor pulled = torch::zeros({static_cast<int64_t>(keys.size()), dim});  // [n_keys, D]
  std::vector<uint8_t> found;
  table_->pull(keys, step, pulled.data_ptr<float>(), found);

  int64_t key_row = 0;
  for (size_t i = 0; i < n_graphs; ++i) {
    const GraphSample& s = samples[i];
    const int64_t k_emb = per_config ? static_cast<int64_t>(s.configs.size()) : 1;
    const int64_t n = static_cast<int64_t>(stale[i].size());
    torch::Tensor block = pulled.narrow(0, key_row, n * k_emb).view({n, k_emb, dim});
    std::mt19937_64 own_rng;
    if (s.sed_seed) own_rng = seeded_rng({*s.sed_seed, 0x5E});
    std::vector<float> scales = stale_dropout_scales(n, config_.sed_p, s.sed_seed ? own_rng : rng);
    std::vector<SegmentRef> missing;
    std::vector<int64_t> missing_pos;
    for (int64_t j = 0; j < n; ++j) {
      const uint8_t* f = found.data() + key_row + j * k_emb;
      if (std::all_of(f, f + k_emb, [](uint8_t x) { return x != 0; })) continue;
      if (config_.missing == MissingEntries::Drop) {
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
        keys_of(s, missing[m].segment, missing_keys_[i]);
      }
      missing_rows_[i] = computed.reshape({-1, dim});
      counts_.computed_missing += static_cast<int64_t>(missing.size());
    }
    key_row += n * k_emb;
    counts_.stale_segments += n;
    counts_.dropped += std::count(scales.begin(), scales.end(), 0.0f);
    if (n > 0) {
      auto mask = torch::from_blob(scales.data(), {n, 1, 1}).clone();
      stale_[i] = (block * mask).sum(0).to(device_);  // [K', D]
    }
  }
}

Segment GstStep::load_for_training(int64_t graph, int64_t segment,
                                   const std::vector<int64_t>& configs) {
  faults_.hit("store.read", rank_, reads_++);
  return segment < 0 ? store_.load_graph(graph, configs)
                     : store_.load_segment(graph, segment, configs);
}

torch::Tensor GstStep::full_graph_embedding(const GraphSample& sample) {
  const int64_t k = static_cast<int64_t>(sample.configs.size());
  const Segment graph = load_for_training(sample.graph, -1, sample.configs);
  auto emb = model_->segment_embeddings(training_batch(sample, {&graph}));
  counts_.trained_segments += 1;
  return emb.expand({1, k, emb.size(2)});  // [1, K, D]
}

torch::Tensor GstStep::segment_embedding(size_t i) {
  const GraphSample& s = samples_.at(i);
  const int64_t k = static_cast<int64_t>(s.configs.size());

  // The graph's trained segments in one batch.
  std::vector<Segment> trained;
  for (int64_t seg : s.train_segments)
    trained.push_back(load_for_training(s.graph, seg, s.configs));
  std::vector<const Segment*> ptrs;
  for (const auto& t : trained) ptrs.push_back(&t);
  torch::Tensor fresh = model_->segment_embeddings(training_batch(s, ptrs));
  const int64_t dim = fresh.size(2);  // fresh: [T, K', D]
  counts_.trained_segments += fresh.size(0);

  if (config_.mode == GstMode::Gst) {
    fresh_keys_[i].clear();
    for (int64_t seg : s.train_segments) keys_of(s, seg, fresh_keys_[i]);
    fresh_rows_[i] = fresh.detach().to(torch::kCPU).reshape({-1, dim});
  }

  const int64_t segments = store_.graphs().at(s.graph).num_segments();
  const int64_t t = static_cast<int64_t>(s.train_segments.size());
  torch::Tensor emb = fresh.sum(0);  // [K', D]
  if (config_.mode == GstMode::SegmentOnly) {
    emb = model_->config().combine == Combine::Mean ? emb / static_cast<double>(t)
                                                    : emb * (static_cast<double>(segments) / t);
  } else {
    if (stale_.at(i).defined()) emb = emb + stale_[i];
    if (model_->config().combine == Combine::Mean) emb = emb / static_cast<double>(segments);
  }
  return emb.expand({k, dim}).unsqueeze(0);  // [1, K, D]
}

torch::Tensor GstStep::graph_loss(size_t i) {
  GST_CHECK(i < samples_.size(), "graph_loss({}) of a step prepared with {} graphs", i,
            samples_.size());
  const GraphSample& s = samples_[i];
  torch::Tensor emb =
      config_.mode == GstMode::FullGraph ? full_graph_embedding(s) : segment_embedding(i);
  return rank_loss(model_->head(emb, tile_config(s)), s);
}

torch::Tensor GstStep::loss(const std::vector<GraphSample>& samples, int64_t step,
                            std::mt19937_64& rng) {
  GST_CHECK(!samples.empty(), "a step needs at least one graph");
  prepare(samples, step, rng);
  torch::Tensor total = graph_loss(0);
  for (size_t i = 1; i < samples.size(); ++i) total = total + graph_loss(i);
  return total / static_cast<double>(samples.size());
}

void GstStep::push_fresh(int64_t step) {
  if (config_.mode != GstMode::Gst) return;
  const int64_t dim = table_->dim();
  std::vector<HistoryKey> keys;
  std::vector<torch::Tensor> rows;
  for (size_t i = 0; i < samples_.size(); ++i) {
    keys.insert(keys.end(), fresh_keys_[i].begin(), fresh_keys_[i].end());
    keys.insert(keys.end(), missing_keys_[i].begin(), missing_keys_[i].end());
    if (fresh_rows_[i].defined()) rows.push_back(fresh_rows_[i]);
    if (missing_rows_[i].defined()) rows.push_back(missing_rows_[i]);
  }
  torch::Tensor all = rows.empty() ? torch::zeros({0, dim}) : torch::cat(rows, 0).contiguous();
  GST_CHECK(all.size(0) == static_cast<int64_t>(keys.size()), "history push: {} rows for {} keys",
            all.size(0), keys.size());
  table_->push(keys, all.data_ptr<float>(), step);
  fresh_keys_.assign(samples_.size(), {});
  missing_keys_.assign(samples_.size(), {});
  fresh_rows_.assign(samples_.size(), torch::Tensor());
  missing_rows_.assign(samples_.size(), torch::Tensor());
}

torch::Tensor GstStep::head_graph_loss(const GraphSample& sample) {
  const int64_t k = static_cast<int64_t>(sample.configs.size());
  model_->eval();
  torch::Tensor g =
      embedder_.graph_embedding(sample.graph, sample.configs, config_.mode == GstMode::FullGraph);
  counts_.trained_segments += store_.graphs().at(sample.graph).num_segments();
  model_->train();
  torch::Tensor emb = g.expand({k, g.size(1)}).unsqueeze(0);  // [1, K, D]
  return rank_loss(model_->head(emb, tile_config(sample)), sample);
}

torch::Tensor GstStep::head_loss(const std::vector<GraphSample>& samples) {
  GST_CHECK(!samples.empty(), "a step needs at least one graph");
  torch::Tensor total = head_graph_loss(samples[0]);
  for (size_t i = 1; i < samples.size(); ++i) total = total + head_graph_loss(samples[i]);
  return total / static_cast<double>(samples.size());
}

}  // namespace gst
