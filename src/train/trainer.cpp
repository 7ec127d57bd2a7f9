#include "train/trainer.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "comm/communicator.h"
#include "comm/distributed_history_table.h"
#include "comm/gradient_sync.h"
#include "common/errors.h"
#include "common/fault.h"
#include "common/progress.h"
#include "eval/evaluator.h"
#include "gst/gst_step.h"
#include "gst/sampling.h"
#include "model/cost_model.h"
#include "run/checkpoint.h"
#include "run/checkpoint_schema.h"
#include "run/device.h"
#include "run/torch_file.h"
#include "store/segment_store.h"
#include "train/batch_source.h"
#include "train/metrics_log.h"
#include "train/preemption.h"
#include "train/schedule.h"
#include "train/step_watchdog.h"

namespace gst {

namespace fs = std::filesystem;

namespace {

void set_lr(torch::optim::Optimizer& opt, double lr) {
  for (auto& group : opt.param_groups())
    static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
}

class Run {
 public:
  Run(const RunConfig& config, Communicator& comm)
      : config_(config),
        comm_(comm),
        rank_(comm.rank()),
        run_dir_(config.train.run_dir),
        device_(resolve_device(config.train.device, "train.device")),
        faults_(FaultPlan::from_environment()) {}

  TrainResult go(const std::string& resume);

 private:
  void build();
  int64_t restore(const std::string& resume);
  void save(int64_t step);
  nlohmann::json validate(int64_t step);
  void enter_head_phase();
  void train_step(int64_t step, double* loss_sum);
  std::vector<int64_t> validation_graphs() const;

  // The steps since the last metrics line.
  struct Interval {
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    double loss_sum = 0;  // this rank's graph losses, each / global batch graphs
    int64_t steps = 0;
    StepCounts counts_before;
  };
  // Writes the metrics line of the interval ending after `step` (collective) and starts the next.
  void log_interval(int64_t step, Interval& interval, MetricsLog* log, TrainResult& result);

  RunConfig config_;
  Communicator& comm_;
  int rank_;
  fs::path run_dir_;
  torch::Device device_;
  FaultPlan faults_;
  std::shared_ptr<SegmentStore> store_;
  CostModel model_{nullptr};
  std::unique_ptr<torch::optim::Adam> optimizer_, head_optimizer_;
  std::unique_ptr<HistoryTable> table_;
  std::unique_ptr<GstStep> step_;
  std::unique_ptr<BatchSource> batches_;
  std::unique_ptr<Evaluator> evaluator_;
  // All parameters in the main phase; replaced by a head-only one (without overlap hooks) by
  // enter_head_phase().
  std::unique_ptr<GradientSync> sync_;
  GradientSyncOptions sync_options_;
  LrSchedule schedule_;
  // Steps, main phase then head fine-tuning, and where this run resumed.
  int64_t start_step_ = 0, total_steps_ = 0;
  std::chrono::steady_clock::time_point run_start_;
};

void Run::build() {
  const TrainConfig& t = config_.train;
  // torch_threads 0: GST_TORCH_THREADS (launch/train.sh sets it), else 1 per rank when several
  // ranks share a machine, else torch's default.
  const char* env_threads = std::getenv("GST_TORCH_THREADS");
  if (t.torch_threads > 0)
    torch::set_num_threads(t.torch_threads);
  else if (env_threads && std::atoi(env_threads) > 0)
    torch::set_num_threads(std::atoi(env_threads));
  else if (comm_.size() > 1)
    torch::set_num_threads(1);

  store_ = SegmentStore::open(config_.data.store);
  const Manifest& manifest = store_->manifest();
  torch::manual_seed(static_cast<uint64_t>(t.seed));
  model_ = CostModel(config_.model, manifest.task, manifest.node_columns, manifest.config_columns);
  model_->to(device_);
  model_->set_precision(usable_precision(t.precision, device_, "train.precision"));
  optimizer_ = std::make_unique<torch::optim::Adam>(
      model_->parameters(), torch::optim::AdamOptions(t.lr).weight_decay(t.weight_decay));
  head_optimizer_ = std::make_unique<torch::optim::Adam>(
      model_->head_parameters(), torch::optim::AdamOptions(config_.gst.head_lr));

  sync_options_ = config_.dist.gradient_sync();
  sync_ = std::make_unique<GradientSync>(comm_, model_->parameters(), sync_options_);

  if (config_.gst.mode == GstMode::Gst)
    table_ = std::make_unique<DistributedHistoryTable>(comm_, model_->embedding_dim(),
                                                       config_.dist.history());
  step_ = std::make_unique<GstStep>(model_, *store_, table_.get(), config_.gst,
                                    RankingLoss{t.loss, t.margin, t.slowdown_weight}, device_,
                                    config_.eval.max_batch_nodes);
  step_->set_faults(faults_, rank_);

  batches_ = std::make_unique<BatchSource>(*store_, config_, rank_, comm_.size());
  evaluator_ =
      std::make_unique<Evaluator>(model_, *store_, config_.gst.mode == GstMode::FullGraph, device_,
                                  config_.eval.config_batch, config_.eval.max_batch_nodes);

  schedule_.kind = t.schedule;
  schedule_.base_lr = t.lr;
  schedule_.warmup_steps = t.warmup_steps;
  schedule_.total_steps = t.steps;
  schedule_.min_lr_ratio = t.min_lr_ratio;
  schedule_.step_size = t.step_size;
  schedule_.gamma = t.step_gamma;

  int64_t params = 0;
  for (const auto& p : model_->parameters()) params += p.numel();
  spdlog::info(
      "train: {} ({} train graphs, {} on rank 0), {} ranks ({}), model {} parameters on {} ({}), "
      "mode {}",
      manifest.collection, batches_->train_graphs(), batches_->rank0_graphs(), comm_.size(),
      comm_.backend(), params, device_.str(), to_string(model_->precision()),
      to_string(config_.gst.mode));
}

int64_t Run::restore(const std::string& resume) {
  std::optional<CheckpointInfo> found;
  if (resume == "auto") {
    found = newest_valid_checkpoint(run_dir_);
    if (!found) spdlog::info("train: no checkpoint in {}, starting fresh", run_dir_.string());
  } else if (!resume.empty()) {
    found = verify_checkpoint(resume);
  } else if (!list_checkpoints(run_dir_).empty()) {
    input_error(
        "{} already holds checkpoints: pass --resume auto to continue that run, or choose "
        "another --run-dir",
        run_dir_.string());
  }
  if (!found) {
    sync_->broadcast_parameters(0);
    return 0;
  }
  const fs::path dir = found->dir;
  load_torch_file(model_, dir / checkpoint_schema::kModelFile, device_);
  load_torch_file(*optimizer_, dir / checkpoint_schema::kOptimizerFile, device_);
  load_torch_file(*head_optimizer_, dir / checkpoint_schema::kHeadOptimizerFile, device_);
  if (table_) {
    std::vector<fs::path> shards;
    for (int r = 0; r < found->world_size; ++r)
      shards.push_back(dir / checkpoint_schema::history_file_name(r));
    table_->load(shards);
  }
  sync_->broadcast_parameters(0);
  spdlog::info("train: resumed from {} (step {}, written by {} ranks)", dir.string(), found->step,
               found->world_size);
  return found->step;
}

void Run::save(int64_t step) {
  if (rank_ == 0) begin_checkpoint(run_dir_, step);
  comm_.barrier();
  const fs::path staging = staging_dir(run_dir_, step);
  try {
    if (table_) table_->save(staging / checkpoint_schema::history_file_name(rank_));
    // Every random choice of a step derives from (seed, rank, step), so this is the whole state.
    nlohmann::json rng = {{"seed", config_.train.seed},
                          {"rank", rank_},
                          {"next_step", step},
                          {"scheme", batches_->scheme()}};
    write_checkpoint_file(staging / checkpoint_schema::rng_file_name(rank_), rng.dump(2) + "\n");
    if (rank_ == 0) {
      save_torch_file(model_, staging / checkpoint_schema::kModelFile);
      save_torch_file(*optimizer_, staging / checkpoint_schema::kOptimizerFile);
      save_torch_file(*head_optimizer_, staging / checkpoint_schema::kHeadOptimizerFile);
      nlohmann::json sched = {{"step", step},
                              {"kind", to_string(schedule_.kind)},
                              {"lr", schedule_.lr(std::min(step, config_.train.steps))}};
      write_checkpoint_file(staging / checkpoint_schema::kSchedulerFile, sched.dump(2) + "\n");
      // Absolute, so eval finds the store from any directory; the run itself keeps the path as
      // given, so its messages name files the way the user did.
      RunConfig copy = config_;
      copy.data.store = fs::absolute(copy.data.store).string();
      write_checkpoint_file(staging / checkpoint_schema::kConfigFile, dump_config(copy) + "\n");
    }
  } catch (const std::exception& e) {
    // The earlier checkpoints are untouched; this one is dropped and the job ends.
    if (rank_ == 0) abandon_checkpoint(staging);
    fail("checkpoint at step {} not saved (earlier checkpoints in {} are intact): {}", step,
         run_dir_.string(), e.what());
  }
  comm_.barrier();
  if (rank_ == 0) {
    CheckpointInfo info = commit_checkpoint(staging, step, comm_.size());
    prune_checkpoints(run_dir_, config_.train.keep_checkpoints);
    spdlog::info("train: checkpoint {}", info.dir.string());
  }
  comm_.barrier();
}

std::vector<int64_t> Run::validation_graphs() const {
  std::vector<int64_t> all = store_->split(config_.data.valid_split);
  if (config_.train.valid_graphs > 0 &&
      static_cast<int64_t>(all.size()) > config_.train.valid_graphs)
    all.resize(config_.train.valid_graphs);
  std::vector<int64_t> mine;
  for (size_t i = rank_; i < all.size(); i += comm_.size()) mine.push_back(all[i]);
  return mine;
}

nlohmann::json Run::validate(int64_t step) {
  MetricSums sums = evaluator_->evaluate(validation_graphs());
  sums.all_reduce(comm_);
  const MetricSums m = sums.mean();
  nlohmann::json j = {{"step", step},
                      {"kind", "valid"},
                      {"graphs", static_cast<int64_t>(m.graphs)},
                      {"kendall_tau", m.kendall_tau},
                      {"opa", m.opa},
                      {"slowdown_top1", m.slowdown1},
                      {"slowdown_top5", m.slowdown5},
                      {"slowdown_top10", m.slowdown10}};
  spdlog::info(
      "valid step {}: kendall tau {:.4f}, opa {:.4f}, top-1/5/10 slowdown {:.4f} / "
      "{:.4f} / {:.4f} ({} graphs)",
      step, m.kendall_tau, m.opa, m.slowdown1, m.slowdown5, m.slowdown10,
      static_cast<int64_t>(m.graphs));
  return j;
}

// Head fine-tuning trains the head only: gradients of the head parameters, synchronized after the
// last backward (no overlap hooks on the backbone).
void Run::enter_head_phase() {
  sync_.reset();  // removes the main phase's backward hooks
  GradientSyncOptions options = sync_options_;
  options.overlap = false;
  sync_ = std::make_unique<GradientSync>(comm_, model_->head_parameters(), options);
}

void Run::train_step(int64_t step, double* loss_sum) {
  const TrainConfig& t = config_.train;
  faults_.hit("train.step", rank_, step);
  const bool head_phase = step >= t.steps;
  torch::manual_seed(mix_seed({static_cast<uint64_t>(t.seed), static_cast<uint64_t>(rank_),
                               static_cast<uint64_t>(step), 0x70}));
  StepBatch batch = batches_->batch(step, *step_);
  const std::vector<GraphSample>& samples = batch.samples;
  torch::optim::Adam& opt = head_phase ? *head_optimizer_ : *optimizer_;
  const std::vector<torch::Tensor> params =
      head_phase ? model_->head_parameters() : model_->parameters();
  model_->train();
  opt.zero_grad();
  // One forward and backward per graph, its loss scaled by 1 / (global batch graphs): the summed
  // gradient is the mean over the global batch, and each graph's part of it is the same on every
  // world size. GradientSync sums the graphs' gradients in float64 across passes and ranks.
  const double scale = 1.0 / static_cast<double>(t.batch_graphs * comm_.size());
  if (!head_phase) step_->prepare(samples, step, batch.rng);
  for (size_t i = 0; i < samples.size(); ++i) {
    torch::Tensor loss =
        (head_phase ? step_->head_graph_loss(samples[i]) : step_->graph_loss(i)) * scale;
    sync_->backward(loss, /*last=*/i + 1 == samples.size());
    *loss_sum += loss.item<double>();
  }
  sync_->finish();
  if (t.clip_norm > 0) torch::nn::utils::clip_grad_norm_(params, t.clip_norm);
  if (!head_phase) set_lr(opt, schedule_.lr(step));
  opt.step();
  if (!head_phase) step_->push_fresh(step);
  if (config_.dist.check_every > 0 && (step + 1) % config_.dist.check_every == 0)
    sync_->check_parameters_consistent(step + 1);
}

void Run::log_interval(int64_t step, Interval& interval, MetricsLog* log, TrainResult& result) {
  const TrainConfig& t = config_.train;
  const int64_t done = step + 1;
  const auto now = std::chrono::steady_clock::now();
  const double secs = std::chrono::duration<double>(now - interval.start).count();
  const StepCounts& c = step_->counts();
  const double mean_loss = comm_.scalar_sum(interval.loss_sum) / interval.steps;
  const double configs =
      comm_.scalar_sum(static_cast<double>(c.graph_configs - interval.counts_before.graph_configs));
  const double segments = comm_.scalar_sum(
      static_cast<double>(c.trained_segments - interval.counts_before.trained_segments));
  nlohmann::json j = {{"step", done},
                      {"kind", "train"},
                      {"phase", step >= t.steps ? "head" : "main"},
                      {"loss", mean_loss},
                      {"lr", step >= t.steps ? config_.gst.head_lr : schedule_.lr(step)},
                      {"graph_configs_per_s", configs / secs},
                      {"segments_per_s", segments / secs},
                      {"step_s", secs / interval.steps}};
  if (table_) {
    const HistoryStats s = table_->stats();
    j["table_hit_rate"] = comm_.scalar_sum(s.hit_rate()) / comm_.size();
    j["table_staleness"] = comm_.scalar_sum(s.mean_staleness) / comm_.size();
    j["table_entries"] = comm_.scalar_sum(static_cast<double>(s.entries));
    j["table_bytes"] = comm_.scalar_sum(static_cast<double>(s.bytes_exchanged));
    j["table_s"] = comm_.scalar_max(s.seconds) / interval.steps;
    table_->reset_stats();
  }
  const double elapsed = std::chrono::duration<double>(now - run_start_).count();
  const double eta = elapsed / (done - start_step_) * (total_steps_ - done);
  if (log) log->write(j);
  spdlog::info(
      "step {}/{} loss {:.4f} lr {:.2e} {:.0f} graph-configs/s{} eta {:.0f}s", done, total_steps_,
      mean_loss, j["lr"].get<double>(), configs / secs,
      table_ ? fmt::format(" table hit {:.2f} staleness {:.1f}", j["table_hit_rate"].get<double>(),
                           j["table_staleness"].get<double>())
             : std::string(),
      eta);
  result.last_loss = mean_loss;
  interval = Interval{};
  interval.counts_before = c;
}

TrainResult Run::go(const std::string& resume) {
  if (rank_ == 0) fs::create_directories(run_dir_);
  comm_.barrier();
  build();
  start_step_ = restore(resume);
  const TrainConfig& t = config_.train;
  total_steps_ = t.steps + config_.gst.head_steps;
  std::unique_ptr<MetricsLog> log;
  if (rank_ == 0) log = std::make_unique<MetricsLog>(run_dir_ / "metrics.jsonl", start_step_);

  if (start_step_ >= total_steps_)
    spdlog::info("train: {} is complete ({} of {} steps); nothing to do", run_dir_.string(),
                 start_step_, total_steps_);
  install_preemption_handlers();
  TrainResult result;
  result.steps_done = start_step_;
  Progress progress("steps", total_steps_ - start_step_);
  run_start_ = std::chrono::steady_clock::now();
  Interval interval;
  interval.counts_before = step_->counts();
  StepWatchdog watchdog(2 * config_.dist.timeout_s);
  const int64_t head_start = std::max(start_step_, t.steps);

  for (int64_t step = start_step_; step < total_steps_; ++step) {
    if (step == head_start) enter_head_phase();
    watchdog.arm(step);
    train_step(step, &interval.loss_sum);
    watchdog.disarm();
    ++interval.steps;
    const int64_t done = step + 1;
    if (rank_ == 0) progress.advance();
    if (done % t.log_every == 0 || done == total_steps_)
      log_interval(step, interval, log.get(), result);
    if (t.valid_every > 0 && done % t.valid_every == 0 && done != total_steps_) {
      auto j = validate(done);
      if (log) log->write(j);
    }
    const bool stop = comm_.scalar_max(preemption_requested() ? 1.0 : 0.0) > 0;
    if (stop || done == total_steps_ || (t.checkpoint_every > 0 && done % t.checkpoint_every == 0))
      save(done);
    result.steps_done = done;
    if (stop) {
      progress.finish();
      spdlog::warn("train: preempted at step {}; checkpoint written, exiting with code {}", done,
                   kPreemptedExitCode);
      result.preempted = true;
      return result;
    }
  }
  progress.finish();
  if (start_step_ < total_steps_) {
    auto j = validate(total_steps_);
    if (log) log->write(j);
  }
  return result;
}

}  // namespace

TrainResult train(const RunConfig& config, Communicator& comm, const std::string& resume) {
  Run run(config, comm);
  return run.go(resume);
}

}  // namespace gst
