// Training- and eval-step throughput of the cost model on synthetic segments shaped like the
// quickstart config: the config-shared path against the replicated path (each segment run once per
// config), with torch threads 1 and 2, in fp32 and bf16. Fails when the two paths disagree on the
// first step. Per precision, a roofline: the model's matrix-product FLOPs counted from its shapes,
// the achieved GFLOP/s, the same products timed as plain matrix multiplies in this run (the peak
// for these shapes), and the share of a GST step in matrix products, aggregation, the history
// table and gradient sync (world size 1). --dump-npz writes the batch and initial weights for the
// PyTorch version (gst_step_bench.py).
#include <sys/resource.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <set>

#include "comm/distributed_history_table.h"
#include "comm/gradient_sync.h"
#include "comm/mpi_communicator.h"
#include "common/enum_names.h"
#include "common/heap_policy.h"
#include "data/npz.h"
#include "data/synth.h"
#include "model/cost_model.h"
#include "model/losses.h"
#include "model/segment_batch.h"
#include "sharding/feature_stats.h"
#include "test_support.h"

using namespace gst;

namespace {

struct Options {
  int64_t graphs = 8, nodes = 1000, configs = 32;
  double share = 0.1;
  int hidden = 128, layers = 3, train_steps = 3, eval_steps = 3;
  std::vector<int> threads{1, 2};
  std::vector<std::string> precisions{"fp32", "bf16"};
  bool skip_replicated = false;
  int profile_top = 0;  // print the N ops taking the most time in the profiled step
  bool system_malloc = false;
  std::string dump_npz;  // where to write the benchmarked batch and model widths, if set
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + 1e-6 * t.tv_usec; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

// Share of nodes within l hops (either direction) of a configurable node, l = 0..layers.
std::vector<double> receptive_field(const SegmentBatch& batch, int layers) {
  const int64_t n = batch.segment_offsets.back();
  std::vector<char> in(n, 0);
  auto nodes = batch.config_nodes.accessor<int64_t, 1>();
  for (int64_t i = 0; i < nodes.size(0); ++i) in[nodes[i]] = 1;
  auto edges = batch.edges.accessor<int64_t, 2>();
  std::vector<double> share;
  for (int l = 0; l <= layers; ++l) {
    share.push_back(static_cast<double>(std::count(in.begin(), in.end(), 1)) / n);
    std::vector<char> next = in;
    for (int64_t e = 0; e < edges.size(1); ++e) {
      if (in[edges[0][e]]) next[edges[1][e]] = 1;
      if (in[edges[1][e]]) next[edges[0][e]] = 1;
    }
    in = std::move(next);
  }
  return share;
}

// Segment 1 (a contiguous node range, as the contiguous partitioner cuts) of a synthetic
// HLO-like layout graph of 4 segments, with its local edges and the graph's first K configs.
Segment synth_segment(const Options& o, uint64_t seed) {
  SynthOptions so;
  so.configs = o.configs;
  so.min_config_share = so.max_config_share = o.share;
  const Graph g = synth_graph(so, Task::Layout, seed, 4 * o.nodes);
  const int64_t first = o.nodes, last = 2 * o.nodes;
  Segment s;
  s.first_node = first;
  s.num_nodes = o.nodes;
  s.node_feat.assign(g.node_feat.begin() + first * kNodeFeatureDim,
                     g.node_feat.begin() + last * kNodeFeatureDim);
  s.node_opcode.assign(g.node_opcode.begin() + first, g.node_opcode.begin() + last);
  for (int64_t e = 0; e < g.num_edges(); ++e) {
    const int64_t a = g.edges[2 * e], b = g.edges[2 * e + 1];
    if (a < first || a >= last || b < first || b >= last) continue;
    s.edges.push_back(static_cast<int32_t>(a - first));
    s.edges.push_back(static_cast<int32_t>(b - first));
  }
  std::vector<int64_t> columns;
  for (int64_t j = 0; j < g.num_config_nodes(); ++j) {
    const int64_t v = g.config_node_ids[j];
    if (v < first || v >= last) continue;
    columns.push_back(j);
    s.config_nodes.push_back(static_cast<int32_t>(v - first));
  }
  const int64_t m = g.num_config_nodes();
  for (int64_t c = 0; c < o.configs; ++c) {
    for (int64_t j : columns) {
      const float* f = &g.config_feat[(c * m + j) * kLayoutConfigDim];
      s.config_feat.insert(s.config_feat.end(), f, f + kLayoutConfigDim);
    }
  }
  return s;
}

template <typename T>
NpyArray npy(const torch::Tensor& t) {
  torch::Tensor c = t.contiguous();
  std::vector<T> values(c.data_ptr<T>(), c.data_ptr<T>() + c.numel());
  return NpyArray::from(values, c.sizes().vec());
}

// The exact batch, feature statistics, runtimes, model widths and initial weights of this run,
// with the model's eval scores, so another implementation of the step
// (tests/model/gst_step_bench.py) can run on identical inputs and check it is the same model.
void dump_batch(const std::string& path, const SegmentBatch& batch, const torch::Tensor& runtimes,
                const torch::Tensor& mean, const torch::Tensor& stdev, CostModel& model, double lr,
                int64_t parameters) {
  const ModelConfig& config = model->config();
  auto integer = [](int64_t v) { return NpyArray::from(std::vector<int64_t>{v}, {1}); };
  auto real = [](double v) { return NpyArray::from(std::vector<double>{v}, {1}); };
  NpzArrays arrays;
  arrays["node_feat"] = npy<float>(batch.node_feat);
  arrays["node_opcode"] = npy<int64_t>(batch.opcode);
  arrays["edges"] = npy<int64_t>(batch.edges);
  arrays["segment_offsets"] =
      NpyArray::from(batch.segment_offsets, {static_cast<int64_t>(batch.segment_offsets.size())});
  arrays["config_nodes"] = npy<int64_t>(batch.config_nodes);
  arrays["config_feat"] = npy<float>(batch.config_feat);
  arrays["runtimes"] = npy<float>(runtimes);
  arrays["feature_mean"] = npy<float>(mean);
  arrays["feature_std"] = npy<float>(stdev);
  arrays["hidden"] = integer(config.hidden);
  arrays["projection"] = integer(config.projection);
  arrays["layers"] = integer(config.layers);
  arrays["head_hidden"] = integer(config.head_hidden);
  arrays["dropout"] = real(config.dropout);
  arrays["lr"] = real(lr);
  arrays["num_parameters"] = integer(parameters);
  for (const auto& p : model->named_parameters()) {
    arrays["param." + p.key()] = npy<float>(p.value().detach());
  }
  model->eval();
  torch::NoGradGuard no_grad;
  arrays["eval_scores"] = npy<float>(model->head(model->segment_embeddings(batch), {}));
  write_npz(path, arrays, /*compress=*/false);
}

torch::Tensor embeddings(CostModel& model, const SegmentBatch& batch, bool shared) {
  return shared ? model->segment_embeddings(batch) : model->segment_embeddings_replicated(batch);
}

// One training step: forward, pairwise hinge loss within each graph's configs, backward, Adam.
void train_step(CostModel& model, torch::optim::Adam& adam, const SegmentBatch& batch,
                const torch::Tensor& runtimes, bool shared) {
  adam.zero_grad();
  torch::Tensor scores = model->head(embeddings(model, batch, shared), {});  // [G, K]
  pairwise_hinge_loss(scores, runtimes).backward();
  adam.step();
}

// Embeddings and gradients of both paths on the same step, dropout off, computed in `dtype`:
// relative L2 differences of the embeddings and of the whole gradient (all parameters as one
// vector). In float the gradient differs by ~1e-4: the ranking loss's gradients sum to zero over
// a graph's configs, so the shared nodes' gradients are the float residue of cancelling terms
// summed in different orders. In double both paths agree to ~1e-14.
std::pair<double, double> path_difference(CostModel& model, SegmentBatch batch,
                                          torch::Tensor runtimes, torch::Dtype dtype) {
  model->eval();
  model->to(dtype);
  batch.node_feat = batch.node_feat.to(dtype);
  batch.config_feat = batch.config_feat.to(dtype);
  runtimes = runtimes.to(dtype);
  std::vector<torch::Tensor> emb(2), grad(2);
  for (int path = 0; path < 2; ++path) {
    model->zero_grad();
    emb[path] = embeddings(model, batch, path == 0);
    pairwise_hinge_loss(model->head(emb[path], {}), runtimes).backward();
    std::vector<torch::Tensor> flat;
    for (const auto& p : model->parameters()) {
      flat.push_back(p.grad().defined() ? p.grad().flatten() : torch::zeros({p.numel()}, dtype));
    }
    grad[path] = torch::cat(flat);
    emb[path] = emb[path].detach();
  }
  model->zero_grad(/*set_to_none=*/true);  // no double gradients left behind
  model->to(torch::kFloat32);
  auto rel = [](const torch::Tensor& a, const torch::Tensor& b) {
    return (a - b).norm().item<double>() / std::max(1e-30, b.norm().item<double>());
  };
  return {rel(emb[0], emb[1]), rel(grad[0], grad[1])};
}

// One matrix product of the model: [m, in] x [in, out], run forward (and with `dx` / `dw` its
// backward products for the input and the weight), in `dtype`.
struct Product {
  const char* what;
  int64_t m, in, out, count;  // count: how many such products (e.g. 3 weights of a SAGE layer)
  torch::ScalarType dtype;
  bool dx, dw;
  double flops(bool train) const {
    const double one = 2.0 * m * in * out * count;
    return train ? one * (1 + dx + dw) : one;
  }
};

// The matrix products of one step of the shared path: input projections, per layer the shared
// rows (N) and the per-config rows of R_l (n_l x K), and the head (fp32 always). Tiny products
// (the pool gate, the additive head term) are left out.
std::vector<Product> model_products(CostModel& model, const SegmentBatch& batch,
                                    const std::vector<double>& reach, Precision precision) {
  const ModelConfig& c = model->config();
  auto params = model->named_parameters();
  const int64_t n = batch.segment_offsets.back(), k = batch.num_configs;
  const torch::ScalarType low = precision == Precision::Bf16 ? torch::kBFloat16 : torch::kFloat;
  const int64_t mp = c.message_passing ? 3 : 1;
  std::vector<Product> out;
  out.push_back(
      {"input", n, params["input_node.weight"].size(1), c.projection, 1, low, false, true});
  const auto rows = [&](int l) { return static_cast<int64_t>(std::llround(reach[l] * n)); };
  out.push_back({"config", rows(0) * k, params["input_config.weight"].size(1), c.projection, 1, low,
                 false, true});
  for (int l = 0; l < c.layers; ++l) {
    const int64_t in = l == 0 ? c.projection : c.hidden;
    out.push_back({"shared", n, in, c.hidden, mp, low, true, true});
    out.push_back({"per-config", rows(l) * k, in, c.hidden, mp, low, true, true});
  }
  const int64_t g = batch.num_segments * k;
  out.push_back(
      {"head", g, params["head_in.weight"].size(1), c.head_hidden, 1, torch::kFloat, true, true});
  out.push_back({"head", g, c.head_hidden, c.head_hidden, 1, torch::kFloat, true, true});
  return out;
}

double time_of(const std::function<void()>& f, int repeats) {
  f();  // warm-up
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) f();
  return seconds_since(start) / repeats;
}

// Seconds the products take as plain matrix multiplies (contiguous operands, best of a few runs).
double plain_product_seconds(const std::vector<Product>& products, bool train) {
  double total = 0;
  for (const Product& p : products) {
    auto options = torch::TensorOptions().dtype(p.dtype);
    torch::Tensor x = torch::randn({p.m, p.in}).to(options),
                  w = torch::randn({p.in, p.out}).to(options);
    torch::Tensor dy = torch::randn({p.m, p.out}).to(options), wt = w.t().contiguous();
    torch::Tensor xt = x.t().contiguous();
    double t = time_of([&] { torch::mm(x, w); }, 3);
    if (train && p.dx) t += time_of([&] { torch::mm(dy, wt); }, 3);
    if (train && p.dw) t += time_of([&] { torch::mm(xt, dy); }, 3);
    total += t * p.count;
  }
  return total;
}

// Seconds in matrix products and in aggregation (the fused sparse products, index_select and
// index_add_) within one run of f, from the profiler's op ranges (outermost of each kind only).
std::pair<double, double> profile_shares(const std::function<void()>& f, int top,
                                         const char* phase) {
  using namespace torch::autograd::profiler;
  static const std::set<std::string> matmul = {"aten::mm",     "aten::addmm",  "aten::bmm",
                                               "aten::matmul", "aten::linear", "aten::baddbmm"};
  static const std::set<std::string> gather = {"gst::aggregate", "aten::index_add_",
                                               "aten::index_add", "aten::index_select"};
  enableProfilerLegacy(
      torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU));
  f();
  thread_event_lists lists = disableProfilerLegacy();
  double mm_us = 0, gather_us = 0;
  std::map<std::string, double> by_name;  // inclusive, outermost of each name
  for (const auto& events : lists) {
    std::vector<const LegacyEvent*> stack;
    std::vector<int> kinds;  // 0 other, 1 matmul, 2 gather
    for (const LegacyEvent& e : events) {
      if (e.kindStr() == "push") {
        const std::string name = e.name();
        stack.push_back(&e);
        kinds.push_back(matmul.count(name) ? 1 : gather.count(name) ? 2 : 0);
      } else if (e.kindStr() == "pop" && !stack.empty()) {
        const int kind = kinds.back();
        const LegacyEvent* start = stack.back();
        stack.pop_back();
        kinds.pop_back();
        const std::string name = start->name();
        if (std::none_of(stack.begin(), stack.end(),
                         [&](const LegacyEvent* a) { return name == a->name(); }))
          by_name[name] += start->cpuElapsedUs(e);
        if (kind == 0 || std::count(kinds.begin(), kinds.end(), kind) > 0) continue;
        (kind == 1 ? mm_us : gather_us) += start->cpuElapsedUs(e);
      }
    }
  }
  std::vector<std::pair<double, std::string>> sorted;
  for (const auto& [name, us] : by_name) sorted.push_back({us, name});
  std::sort(sorted.rbegin(), sorted.rend());
  for (int i = 0; i < top && i < static_cast<int>(sorted.size()); ++i)
    std::printf("  profile %-5s %-40s %9.1f ms (inclusive)\n", phase, sorted[i].second.c_str(),
                sorted[i].first * 1e-3);
  return {mm_us * 1e-6, gather_us * 1e-6};
}

// World size 1: pulling the stale segments of a GST step (3 per graph, K configs each) from the
// history table and pushing the fresh ones; and summing the gradients (float64 buffers, one
// all-reduce, rounding). Seconds per step.
std::pair<double, double> table_and_sync_seconds(CostModel& model, int64_t graphs, int64_t k,
                                                 const std::function<torch::Tensor()>& loss) {
  const int64_t dim = model->embedding_dim();
  DistributedHistoryTable table(testing::world(), dim);
  std::vector<HistoryKey> stale, fresh;
  for (int64_t g = 0; g < graphs; ++g) {
    for (int64_t c = 0; c < k; ++c) {
      for (int64_t seg = 0; seg < 3; ++seg) stale.push_back({g, c, seg});
      fresh.push_back({g, c, 3});
    }
  }
  std::vector<float> rows(stale.size() * dim, 0.5f), out(stale.size() * dim);
  std::vector<uint8_t> found;
  table.push(stale, rows.data(), 0);
  int64_t step = 1;
  const double history = time_of(
      [&] {
        table.pull(stale, step, out.data(), found);
        table.push(fresh, rows.data(), step);
        ++step;
      },
      5);
  GradientSync sync(testing::world(), model->parameters());
  double sync_seconds = 0;
  for (int i = 0; i < 3; ++i) {
    model->zero_grad();
    torch::Tensor l = loss();
    sync.backward(l, /*last=*/false);  // the float64 sums, as for every graph but the last
    l = loss();
    sync.backward(l);
    auto start = std::chrono::steady_clock::now();
    sync.finish();
    if (i > 0) sync_seconds += seconds_since(start) / 2;
  }
  return {history, sync_seconds};
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"cost model training/eval step throughput: config-shared vs replicated"};
  app.add_option("--graphs", o.graphs, "graphs per step (one segment each)")->capture_default_str();
  app.add_option("--nodes", o.nodes, "nodes per segment")->capture_default_str();
  app.add_option("--configs", o.configs, "configs per graph")->capture_default_str();
  app.add_option("--share", o.share, "configurable-node share")->capture_default_str();
  app.add_option("--hidden", o.hidden, "hidden width")->capture_default_str();
  app.add_option("--layers", o.layers, "SAGE layers")->capture_default_str();
  app.add_option("--train-steps", o.train_steps, "timed training steps")->capture_default_str();
  app.add_option("--eval-steps", o.eval_steps, "timed eval steps")->capture_default_str();
  app.add_option("--threads", o.threads, "torch thread counts")->capture_default_str();
  app.add_option("--precision", o.precisions, "fp32 and/or bf16")->capture_default_str();
  app.add_flag("--system-malloc", o.system_malloc,
               "keep glibc's default of returning freed memory to the kernel");
  app.add_option("--dump-npz", o.dump_npz, "write the benchmarked batch to this .npz");
  app.add_option("--profile-top", o.profile_top, "print the N most expensive ops of a step");
  app.add_flag("--skip-replicated", o.skip_replicated, "time the shared path only (profiling)");
  CLI11_PARSE(app, argc, argv);
  // gst's heap policy (common/heap_policy.h); --system-malloc shows its worth.
  if (!o.system_malloc) keep_freed_memory_in_heap();

  std::vector<Segment> segments;
  for (int64_t g = 0; g < o.graphs; ++g) {
    segments.push_back(synth_segment(o, static_cast<uint64_t>(g)));
  }
  std::vector<const Segment*> ptrs;
  for (const Segment& s : segments) ptrs.push_back(&s);
  SegmentBatch batch = make_segment_batch(ptrs, Task::Layout, o.configs, torch::kCPU);
  torch::manual_seed(1);
  torch::Tensor runtimes = torch::rand({o.graphs, o.configs});

  ModelConfig config;
  config.hidden = o.hidden;
  config.layers = o.layers;
  // The PyTorch mirror (gst_step_bench.py) feeds raw values only and pools mean + max: the same
  // model without coded columns, layout-aware config inputs and size pooling when its batch is
  // dumped.
  const bool full = o.dump_npz.empty();
  config.categorical = config.config_match = config.size_pooling = full;
  config.neighbour_match = config.dim_fit = config.kept_layout_fit = full;
  config.layout_agreement = full;
  // Column statistics of the batch itself (the manifest holds the train split's).
  torch::Tensor feat = batch.node_feat;
  torch::Tensor mean_t = feat.mean(0), std_t = feat.std(0);
  FeatureStats node_stats(kNodeFeatureDim), config_stats(kLayoutConfigDim);
  for (const Segment& seg : segments) {
    node_stats.add(seg.node_feat);
    config_stats.add(seg.config_feat);
  }
  ColumnStats node_columns = node_stats.summary();
  node_columns.mean.assign(mean_t.data_ptr<float>(), mean_t.data_ptr<float>() + kNodeFeatureDim);
  node_columns.std.assign(std_t.data_ptr<float>(), std_t.data_ptr<float>() + kNodeFeatureDim);
  CostModel model(config, Task::Layout, node_columns, config_stats.summary());
  const double lr = 1e-4;
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(lr));
  int64_t parameters = 0;
  for (const auto& p : model->parameters()) parameters += p.numel();
  if (!o.dump_npz.empty()) {
    dump_batch(o.dump_npz, batch, runtimes, mean_t, std_t, model, lr, parameters);
  }

  std::printf(
      "batch: %lld synthetic layout graphs x 1 segment of %lld nodes, %lld configs/graph, %.0f%% "
      "configurable, "
      "hidden %d, projection %d, %d layers\n",
      static_cast<long long>(o.graphs), static_cast<long long>(o.nodes),
      static_cast<long long>(o.configs), 100 * o.share, config.hidden, config.projection,
      config.layers);
  std::printf("parameters: %lld\n", static_cast<long long>(parameters));
  std::printf("share of nodes within l = 0..L hops of a configurable node:");
  for (double s : receptive_field(batch, o.layers)) std::printf(" %.0f%%", 100 * s);
  std::printf("\n");

  // The first step in float, and its first two graphs in double (bounded memory).
  const auto [emb_diff, grad_diff] = path_difference(model, batch, runtimes, torch::kFloat32);
  SegmentBatch two = make_segment_batch({ptrs[0], ptrs[1]}, Task::Layout, o.configs, torch::kCPU);
  const auto [emb_diff64, grad_diff64] =
      path_difference(model, two, runtimes.narrow(0, 0, 2), torch::kFloat64);
  std::printf(
      "first step, shared vs replicated, relative L2 difference of embeddings / gradient: "
      "float %.1e / %.1e, double (2 graphs) %.1e / %.1e\n",
      emb_diff, grad_diff, emb_diff64, grad_diff64);
  if (!(emb_diff < 1e-5 && grad_diff < 2e-3 && emb_diff64 < 1e-10 && grad_diff64 < 1e-10)) {
    std::fprintf(stderr, "FAIL: the shared and replicated paths disagree\n");
    return 1;
  }

  const double graph_configs = static_cast<double>(o.graphs * o.configs);
  const std::vector<double> reach = receptive_field(batch, o.layers);
  auto train_loss = [&] {
    return pairwise_hinge_loss(model->head(model->segment_embeddings(batch), {}), runtimes);
  };
  std::printf("%-6s %-7s %-11s %-9s %12s %12s %10s %12s %10s\n", "phase", "threads", "path",
              "precision", "graph-cfg/s", "segments/s", "ms/step", "cpu-ms/step", "speedup");
  std::vector<std::string> roofline;
  for (int threads : o.threads) {
    torch::set_num_threads(threads);
    for (const std::string& precision_word : o.precisions) {
      const Precision precision = usable_precision(
          parse_enum<Precision>(precision_word, "--precision"), torch::kCPU, "--precision");
      const std::string label(to_string(precision));  // fp32 where bf16 fell back
      model->set_precision(precision);
      std::map<std::string, double> shared_time;  // phase -> s/step of the shared path
      for (const char* phase : {"train", "eval"}) {
        const bool train = std::string(phase) == "train";
        double replicated_time = 0;
        for (bool shared : {false, true}) {
          if (!shared && o.skip_replicated) continue;
          auto step = [&] {
            if (train) {
              model->train();
              train_step(model, adam, batch, runtimes, shared);
            } else {
              model->eval();
              torch::NoGradGuard no_grad;
              model->head(embeddings(model, batch, shared), {});
            }
          };
          step();  // warm-up
          const int steps = train ? o.train_steps : o.eval_steps;
          auto start = std::chrono::steady_clock::now();
          const double cpu_start = cpu_seconds();
          for (int i = 0; i < steps; ++i) step();
          const double per_step = seconds_since(start) / steps;
          const double cpu_per_step = (cpu_seconds() - cpu_start) / steps;
          if (!shared) replicated_time = per_step;
          if (shared) shared_time[phase] = per_step;
          std::printf("%-6s %-7d %-11s %-9s %12.0f %12.2f %10.1f %12.1f %9.2fx\n", phase, threads,
                      shared ? "shared" : "replicated", label.c_str(), graph_configs / per_step,
                      o.graphs / per_step, 1000 * per_step, 1000 * cpu_per_step,
                      shared && replicated_time > 0 ? replicated_time / per_step : 1.0);
          std::fflush(stdout);
        }
      }
      if (threads != o.threads.front()) continue;
      // The roofline of the shared path at the first thread count.
      const std::vector<Product> products = model_products(model, batch, reach, precision);
      // Eval first: a profile taken after a backward pass also holds events of its engine threads.
      model->eval();
      const auto [eval_mm_s, eval_gather_s] = profile_shares(
          [&] {
            torch::NoGradGuard no_grad;
            model->head(model->segment_embeddings(batch), {});
          },
          o.profile_top, "eval");
      model->train();
      const auto [mm_s, gather_s] = profile_shares(
          [&] {
            adam.zero_grad();
            train_loss().backward();
          },
          o.profile_top, "train");
      const auto [history_s, sync_s] =
          table_and_sync_seconds(model, o.graphs, o.configs, train_loss);
      adam.zero_grad();
      char line[512];
      for (const char* phase : {"train", "eval"}) {
        const bool train = std::string(phase) == "train";
        double flops = 0;
        for (const Product& p : products) flops += p.flops(train);
        const double peak = flops / plain_product_seconds(products, train);
        const double achieved = flops / shared_time[phase];
        std::snprintf(line, sizeof line, "%-6s %-9s %7d %11.2f %12.1f %12.1f %9.0f%%", phase,
                      label.c_str(), threads, flops * 1e-9 / graph_configs * 1e3, achieved * 1e-9,
                      peak * 1e-9, 100 * achieved / peak);
        std::string row = line;
        if (train) {
          const double total = shared_time[phase] + history_s + sync_s;
          std::snprintf(line, sizeof line, " %7.0f%% %7.0f%% %7.1f%% %7.1f%% %7.0f%%",
                        100 * mm_s / total, 100 * gather_s / total, 100 * history_s / total,
                        100 * sync_s / total,
                        100 * (total - mm_s - gather_s - history_s - sync_s) / total);
        } else {  // no history table or gradient sum in an eval step
          const double total = shared_time[phase];
          std::snprintf(line, sizeof line, " %7.0f%% %7.0f%% %8s %8s %7.0f%%",
                        100 * eval_mm_s / total, 100 * eval_gather_s / total, "-", "-",
                        100 * (total - eval_mm_s - eval_gather_s) / total);
        }
        row += line;
        roofline.push_back(row);
      }
    }
  }
  std::printf(
      "\nroofline (shared path; model FLOPs: matrix products counted from the shapes, forward + "
      "backward for train; peak: the same products as plain torch::mm in the same precision, "
      "timed in this run)\n");
  std::printf("%-6s %-9s %7s %11s %12s %12s %10s %8s %8s %8s %8s %8s\n", "phase", "precision",
              "threads", "MFLOP/g-cfg", "GFLOP/s", "peak GFLOP/s", "of peak", "matmul", "aggreg",
              "history", "sync", "other");
  for (const std::string& row : roofline) std::printf("%s\n", row.c_str());
  std::printf(
      "(train shares: of one model step plus a world-size-1 history pull/push of 3 stale "
      "segments per graph and a gradient sum; eval shares: of one forward step; matmul/aggreg "
      "from the profiler over one step)\n");
  std::printf("peak RSS %.0f MB\n", peak_rss_mb());
  return 0;
}
