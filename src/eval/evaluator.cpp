#include "eval/evaluator.h"

#include <algorithm>
#include <numeric>

#include "comm/communicator.h"
#include "eval/metrics.h"

namespace gst {

void MetricSums::add(const MetricSums& o) {
  graphs += o.graphs;
  kendall_tau += o.kendall_tau;
  opa += o.opa;
  slowdown1 += o.slowdown1;
  slowdown5 += o.slowdown5;
  slowdown10 += o.slowdown10;
}

MetricSums MetricSums::mean() const {
  if (graphs == 0) return *this;
  return {graphs,
          kendall_tau / graphs,
          opa / graphs,
          slowdown1 / graphs,
          slowdown5 / graphs,
          slowdown10 / graphs};
}

void MetricSums::all_reduce(Communicator& comm) {
  for (double* v : {&graphs, &kendall_tau, &opa, &slowdown1, &slowdown5, &slowdown10})
    *v = comm.scalar_sum(*v);
}

Evaluator::Evaluator(CostModel model, const SegmentStore& store, bool whole_graph,
                     torch::Device device, int64_t config_batch, int64_t max_batch_nodes)
    : model_(model),
      store_(store),
      whole_graph_(whole_graph),
      device_(device),
      config_batch_(config_batch),
      embedder_(model, store, device, max_batch_nodes) {}

std::vector<double> Evaluator::scores(int64_t graph) {
  torch::NoGradGuard no_grad;
  const bool was_training = model_->is_training();
  model_->eval();
  const int64_t c = store_.graphs().at(graph).num_configs;
  std::vector<double> out;
  out.reserve(c);
  const bool tile = model_->task() == Task::Tile, per_config = model_->configs_at_nodes();
  torch::Tensor shared_emb;  // tile joined at the head: [1, D], config-independent
  if (!per_config) shared_emb = embedder_.graph_embedding(graph, {}, whole_graph_);
  GraphConfigs configs;
  if (tile) configs = store_.load_configs(graph);
  for (int64_t first = 0; first < c; first += config_batch_) {
    const int64_t k = std::min(config_batch_, c - first);
    std::vector<int64_t> chunk(k);
    std::iota(chunk.begin(), chunk.end(), first);
    torch::Tensor emb = per_config ? embedder_.graph_embedding(graph, chunk, whole_graph_)
                                   : shared_emb.expand({k, shared_emb.size(1)});
    emb = emb.unsqueeze(0);  // [1, k, D]
    torch::Tensor tile_config;
    if (tile) {
      tile_config = torch::from_blob(configs.tile_feat.data() + first * kTileConfigDim,
                                     {1, k, kTileConfigDim})
                        .clone()
                        .to(device_);  // [1, k, 24]
    }
    torch::Tensor s = model_->head(emb, tile_config).to(torch::kCPU).to(torch::kFloat64);
    out.insert(out.end(), s.data_ptr<double>(), s.data_ptr<double>() + k);
  }
  if (was_training) model_->train();
  return out;
}

std::vector<double> Evaluator::truth(int64_t graph) const {
  GraphConfigs c = store_.load_configs(graph);
  if (c.normalizer.empty()) return c.runtime;
  std::vector<double> out(c.runtime.size());
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = c.normalizer[i] > 0 ? c.runtime[i] / c.normalizer[i] : 0;
  return out;
}

MetricSums Evaluator::metrics(int64_t graph) {
  const std::vector<double> t = truth(graph);
  if (std::none_of(t.begin(), t.end(), [](double x) { return x > 0; })) return {};
  const std::vector<double> s = scores(graph);
  MetricSums m;
  m.graphs = 1;
  m.kendall_tau = kendall_tau(s, t);
  m.opa = ordered_pair_accuracy(s, t);
  m.slowdown1 = top_k_slowdown(s, t, 1);
  m.slowdown5 = top_k_slowdown(s, t, 5);
  m.slowdown10 = top_k_slowdown(s, t, 10);
  return m;
}

MetricSums Evaluator::evaluate(const std::vector<int64_t>& graphs) {
  MetricSums sums;
  for (int64_t g : graphs) sums.add(metrics(g));
  return sums;
}

}  // namespace gst
