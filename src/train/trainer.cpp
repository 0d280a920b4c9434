#include "cellvae/train/trainer.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>

#include "cellvae/error.hpp"
#include "cellvae/random.hpp"
#include "cellvae/threads.hpp"
#include "cellvae/train/fused_adam.hpp"

namespace cellvae::train {
namespace {

// The batch as the module reads it: covariates the configuration does not use are dropped.
model::CellBatch batch_for(const model::Vae& model, const data::CellData& data,
                           const std::vector<std::int64_t>& rows,
                           const data::BatchOptions& options, data::BatchBuffers* buffers) {
  model::CellBatch b = data::make_batch(data, rows, options, buffers);
  if (model->config().n_labels == 0) b.labels = torch::Tensor();
  if (model->config().n_batches == 0) b.batches = torch::Tensor();
  return b;
}

data::BatchOptions batch_options_of(model::Vae& model) {
  data::BatchOptions o;
  const auto params = model->parameters();
  if (!params.empty()) {
    o.device = params.front().device();
    o.dtype = params.front().scalar_type();
  }
  return o;
}

torch::Tensor sum_or_zero(const torch::Tensor& t, const torch::Tensor& like) {
  return t.defined() ? t.sum() : torch::zeros({}, like.options());
}

// Sums over the batch's cells of loss, reconstruction, kl_z, kl_library, in double on the CPU
// (one device synchronisation per batch).
std::array<double, 4> term_sums(const model::LossTerms& terms) {
  const torch::Tensor s =
      torch::stack({terms.loss.sum(), terms.reconstruction.sum(), terms.kl_z.sum(),
                    sum_or_zero(terms.kl_library, terms.loss)})
          .detach()
          .to(torch::kCPU, torch::kDouble);
  const double* p = s.data_ptr<double>();
  return {p[0], p[1], p[2], p[3]};
}

bool all_finite(const std::array<double, 4>& v) {
  return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

LossSummary mean_summary(const std::array<double, 4>& sums, double cells) {
  LossSummary s;
  s.loss = sums[0] / cells;
  s.reconstruction = sums[1] / cells;
  s.kl_z = sums[2] / cells;
  s.kl_library = sums[3] / cells;
  return s;
}

// Puts a module back into its previous train/eval mode when it goes out of scope.
class ModeGuard {
 public:
  explicit ModeGuard(model::Vae& model) : model_(model), training_(model->is_training()) {}
  ~ModeGuard() { model_->train(training_); }
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;

 private:
  model::Vae& model_;
  bool training_;
};

void check_codes(const std::vector<std::int32_t>& codes, std::int64_t n_categories,
                 std::int64_t n_cells, const std::vector<std::int64_t>& rows, const char* what) {
  if (n_categories == 0) return;
  if (static_cast<std::int64_t>(codes.size()) != n_cells)
    throw InputError(std::string("the model is conditioned on ") + std::to_string(n_categories) +
                     " " + what + " categories but the data have " +
                     (codes.empty() ? std::string("no ") + what + " codes"
                                    : std::to_string(codes.size()) + " " + what + " codes for " +
                                          std::to_string(n_cells) + " cells"));
  for (std::int64_t r : rows) {
    const std::int32_t c = codes[static_cast<std::size_t>(r)];
    if (c < 0 || c >= n_categories)
      throw InputError("cell " + std::to_string(r) + " has " + what + " code " +
                       std::to_string(c) + " (" + (c < 0 ? "missing" : "unknown") +
                       "); the model knows codes 0.." + std::to_string(n_categories - 1));
  }
}

void check_rows(const std::vector<std::int64_t>& rows, std::int64_t n_cells, const char* what) {
  for (std::int64_t r : rows)
    if (r < 0 || r >= n_cells)
      throw InputError(std::string(what) + " cell index " + std::to_string(r) +
                       " out of range; the data have " + std::to_string(n_cells) + " cells");
}

}  // namespace

torch::Device resolve_device(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::cpu:
      return torch::kCPU;
    case DeviceKind::auto_:
      return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0)
                                         : torch::Device(torch::kCPU);
    case DeviceKind::cuda:
      if (torch::cuda::is_available()) return torch::Device(torch::kCUDA, 0);
      if (!c10::impl::hasDeviceGuardImpl(c10::DeviceType::CUDA))
        throw InputError(
            "--device cuda: this LibTorch was built without CUDA; use --device cpu (or auto), or "
            "build cellvae against a CUDA LibTorch (Torch_DIR)");
      throw InputError(
          "--device cuda: no CUDA device is visible (check the driver and "
          "CUDA_VISIBLE_DEVICES); use --device cpu (or auto)");
  }
  return torch::kCPU;
}

torch::Generator make_generator(torch::Device device, std::uint64_t seed) {
  if (device.is_cpu()) return at::detail::createCPUGenerator(seed);
  torch::Generator global = at::globalContext().defaultGenerator(device);  // a handle
  torch::Generator g;
  {
    std::lock_guard<std::mutex> lock(global.mutex());
    g = global.clone();
  }
  g.set_current_seed(seed);
  return g;
}

struct Trainer::State {
  model::Vae model;
  const data::CellData* data = nullptr;
  std::vector<std::int64_t> train_rows;
  std::vector<std::int64_t> validation_rows;
  TrainOptions options;
  data::BatchOptions batch_options;
  data::BatchBuffers batch_buffers;
  std::vector<torch::Tensor> trainable;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  bool fused_optimizer = false;  // FusedAdam/FusedAdamW: gradients are cleared, not zeroed
  double learning_rate = 0;

  Rng shuffle_rng{0};
  torch::Generator generator;
  std::uint64_t validation_seed = 0;

  std::int64_t max_epochs = 0;
  History history;
  double best = std::numeric_limits<double>::infinity();
  std::int64_t best_epoch = 0;
  std::int64_t wait = 0;     // epochs since the last improvement (early stopping)
  std::int64_t lr_wait = 0;  // the same, reset when the learning rate is reduced
  bool stopped = false;
  bool finished = false;
  std::vector<torch::Tensor> best_parameters;
  std::vector<torch::Tensor> best_buffers;

  explicit State(model::Vae m) : model(std::move(m)) {}

  void build_optimizer() {
    const TrainOptions& o = options;
    namespace optim = torch::optim;
    // The fused update is for CPU tensors (elsewhere FusedAdam would fall back to torch's step).
    const bool fuse =
        o.fused_optimizer && (trainable.empty() || trainable.front().device().is_cpu());
    fused_optimizer = false;
    switch (o.optimizer) {
      case OptimizerKind::adam: {
        const auto adam =
            optim::AdamOptions(o.learning_rate).eps(o.adam_epsilon).weight_decay(o.weight_decay);
        if (fuse)
          optimizer = std::make_unique<FusedAdam>(trainable, adam);
        else
          optimizer = std::make_unique<optim::Adam>(trainable, adam);
        fused_optimizer = fuse;
        break;
      }
      case OptimizerKind::adamw: {
        const auto adamw =
            optim::AdamWOptions(o.learning_rate).eps(o.adam_epsilon).weight_decay(o.weight_decay);
        if (fuse)
          optimizer = std::make_unique<FusedAdamW>(trainable, adamw);
        else
          optimizer = std::make_unique<optim::AdamW>(trainable, adamw);
        fused_optimizer = fuse;
        break;
      }
      case OptimizerKind::sgd:
        optimizer = std::make_unique<optim::SGD>(
            trainable,
            optim::SGDOptions(o.learning_rate).momentum(o.momentum).weight_decay(o.weight_decay));
        break;
      case OptimizerKind::rmsprop:
        optimizer = std::make_unique<optim::RMSprop>(
            trainable, optim::RMSpropOptions(o.learning_rate)
                           .eps(o.adam_epsilon)
                           .momentum(o.momentum)
                           .weight_decay(o.weight_decay));
        break;
    }
    learning_rate = o.learning_rate;
  }

  void set_learning_rate(double lr) {
    for (auto& group : optimizer->param_groups()) group.options().set_lr(lr);
    learning_rate = lr;
  }

  void snapshot() {
    torch::NoGradGuard no_grad;
    best_parameters.clear();
    best_buffers.clear();
    for (const auto& p : model->parameters()) best_parameters.push_back(p.detach().clone());
    for (const auto& b : model->buffers()) best_buffers.push_back(b.detach().clone());
  }

  void restore() {
    torch::NoGradGuard no_grad;
    const auto params = model->parameters();
    const auto buffers = model->buffers();
    for (std::size_t i = 0; i < params.size() && i < best_parameters.size(); ++i)
      params[i].copy_(best_parameters[i]);
    for (std::size_t i = 0; i < buffers.size() && i < best_buffers.size(); ++i)
      buffers[i].copy_(best_buffers[i]);
  }

  // Early stopping and reduce-LR-on-plateau after an epoch with monitored value `value`.
  void update_monitor(double value, std::int64_t epoch) {
    if (value < best - options.min_delta) {
      best = value;
      best_epoch = epoch;
      history.best_epoch = epoch;
      wait = 0;
      lr_wait = 0;
      if (options.restore_best) snapshot();
      return;
    }
    ++wait;
    ++lr_wait;
    if (options.patience && wait >= *options.patience && epoch < max_epochs) stopped = true;
    if (options.lr_patience && lr_wait >= *options.lr_patience &&
        learning_rate > options.min_learning_rate) {
      set_learning_rate(std::max(learning_rate * options.lr_factor, options.min_learning_rate));
      lr_wait = 0;
    }
  }
};

Trainer::Trainer(model::Vae model, const data::CellData& data,
                 std::vector<std::int64_t> train_rows, std::vector<std::int64_t> validation_rows,
                 TrainOptions options) {
  validate(options);
  if (options.threads) configure_threads(*options.threads);
  const model::ModelConfig& cfg = model->config();
  const std::int64_t n_cells = data.counts.n_rows;
  if (data.counts.n_cols != cfg.n_genes)
    throw InputError("the data have " + std::to_string(data.counts.n_cols) +
                     " genes but the model was built for " + std::to_string(cfg.n_genes));
  if (train_rows.empty()) throw InputError("no training cells");
  if (static_cast<std::int64_t>(train_rows.size()) < options.min_batch_cells)
    throw InputError(std::to_string(train_rows.size()) + " training cells; at least " +
                     std::to_string(options.min_batch_cells) +
                     " (min_batch_cells) are needed for one minibatch");
  if (cfg.norm == model::Normalization::batch && options.min_batch_cells < 2)
    throw InputError("min_batch_cells must be >= 2 with batch normalisation (--norm batch)");
  check_rows(train_rows, n_cells, "training");
  check_rows(validation_rows, n_cells, "validation");
  for (const auto* rows : {&train_rows, &validation_rows}) {
    check_codes(data.labels, cfg.n_labels, n_cells, *rows, "label");
    check_codes(data.batches, cfg.n_batches, n_cells, *rows, "batch");
  }

  state_ = std::make_unique<State>(std::move(model));
  State& s = *state_;
  s.data = &data;
  s.train_rows = std::move(train_rows);
  s.validation_rows = std::move(validation_rows);
  s.options = std::move(options);
  s.max_epochs = s.options.epochs ? *s.options.epochs
                                  : default_epochs(static_cast<std::int64_t>(s.train_rows.size()));

  // Independent streams for shuffling, z draws, dropout and the validation pass, all from one
  // seed (equal seeds in two generators would give correlated draws).
  Rng seeder(s.options.seed);
  s.shuffle_rng = Rng(seeder.next());
  const std::uint64_t reparameterisation_seed = seeder.next();
  const std::uint64_t dropout_seed = seeder.next();
  s.validation_seed = seeder.next();

  if (cfg.library == model::LibraryKind::latent) {
    auto [mean, variance] = data::library_prior(data, s.train_rows, cfg.n_batches);
    s.model->set_library_prior(mean, variance);
  }
  const torch::Device device = resolve_device(s.options.device);
  s.model->to(device);
  s.batch_options = batch_options_of(s.model);
  s.batch_options.device = device;

  torch::manual_seed(dropout_seed);
  s.generator = make_generator(device, reparameterisation_seed);

  for (const auto& p : s.model->parameters())
    if (p.requires_grad()) s.trainable.push_back(p);
  s.build_optimizer();
}

Trainer::~Trainer() = default;
Trainer::Trainer(Trainer&&) noexcept = default;

const EpochRecord& Trainer::run_epoch(const BatchCallback& on_batch) {
  if (done()) throw std::logic_error("Trainer::run_epoch called after training finished");
  State& s = *state_;
  const TrainOptions& o = s.options;
  const auto epoch0 = static_cast<std::int64_t>(s.history.epochs.size());

  EpochRecord rec;
  rec.epoch = epoch0 + 1;
  const double warmup =
      o.kl_warmup_epochs > 0 ? std::min(1.0, static_cast<double>(epoch0) / o.kl_warmup_epochs)
                             : 1.0;
  rec.kl_weight = o.kl_weight * warmup;
  rec.learning_rate = s.learning_rate;

  std::vector<std::int64_t> order = s.train_rows;
  s.shuffle_rng.shuffle(order);
  const auto n_rows = static_cast<std::int64_t>(order.size());
  std::int64_t n_batches = 0;
  for (std::int64_t begin = 0; begin < n_rows; begin += o.batch_size)
    if (std::min(o.batch_size, n_rows - begin) >= o.min_batch_cells) ++n_batches;

  const auto started = std::chrono::steady_clock::now();
  s.model->train();
  std::array<double, 4> sums{0, 0, 0, 0};
  double cells = 0;
  std::int64_t batch_index = 0;
  std::vector<std::int64_t> rows;
  for (std::int64_t begin = 0; begin < n_rows; begin += o.batch_size) {
    const std::int64_t end = std::min(n_rows, begin + o.batch_size);
    if (end - begin < o.min_batch_cells) continue;
    rows.assign(order.begin() + begin, order.begin() + end);
    const model::CellBatch batch =
        batch_for(s.model, *s.data, rows, s.batch_options, &s.batch_buffers);
    const model::LossTerms terms = s.model->loss(batch, s.generator, rec.kl_weight);
    const std::array<double, 4> b = term_sums(terms);
    if (!all_finite(b))
      throw InputError("non-finite loss in epoch " + std::to_string(rec.epoch) + ", batch " +
                       std::to_string(batch_index + 1) + " of " + std::to_string(n_batches) +
                       " (learning rate " + format_number(s.learning_rate) +
                       "); try a lower --lr, --clip, or check the data for NaN or infinite values");
    if (s.fused_optimizer)
      clear_gradients(s.trainable);
    else
      s.optimizer->zero_grad();
    terms.loss.mean().backward();
    if (o.gradient_clip) torch::nn::utils::clip_grad_norm_(s.trainable, *o.gradient_clip);
    s.optimizer->step();

    for (std::size_t k = 0; k < sums.size(); ++k) sums[k] += b[k];
    cells += static_cast<double>(end - begin);
    if (on_batch) on_batch(batch_index, n_batches, sums[0] / cells);
    ++batch_index;
  }
  rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  rec.train = mean_summary(sums, cells);

  const LossSummary* monitored = &rec.train;
  if (!s.validation_rows.empty()) {
    // A fresh generator per epoch: every validation pass uses the same z noise, so epochs
    // differ by their weights only.
    torch::Generator gen = make_generator(s.batch_options.device, s.validation_seed);
    rec.validation =
        evaluate_loss(s.model, *s.data, s.validation_rows, o.batch_size, rec.kl_weight, gen);
    const LossSummary& v = *rec.validation;
    if (!std::isfinite(v.loss) || !std::isfinite(v.reconstruction) || !std::isfinite(v.kl_z) ||
        !std::isfinite(v.kl_library))
      throw InputError("non-finite validation loss in epoch " + std::to_string(rec.epoch) +
                       " (learning rate " + format_number(s.learning_rate) +
                       "); try a lower --lr or --clip");
    monitored = &v;
  }
  s.history.epochs.push_back(rec);
  s.update_monitor(
      monitored->reconstruction + monitored->kl_library + o.kl_weight * monitored->kl_z,
      rec.epoch);
  s.history.stopped_early = s.stopped;
  return s.history.epochs.back();
}

bool Trainer::done() const {
  const State& s = *state_;
  return s.stopped || static_cast<std::int64_t>(s.history.epochs.size()) >= s.max_epochs;
}

std::int64_t Trainer::max_epochs() const { return state_->max_epochs; }

History Trainer::finish() {
  State& s = *state_;
  if (!s.finished) {
    const auto last = static_cast<std::int64_t>(s.history.epochs.size());
    if (s.options.restore_best && s.best_epoch > 0) {
      if (s.best_epoch != last) s.restore();
      s.history.best_epoch = s.best_epoch;
    } else {
      s.history.best_epoch = last;
    }
    s.best_parameters.clear();
    s.best_buffers.clear();
    s.model->eval();
    s.finished = true;
  }
  return s.history;
}

const History& Trainer::history() const { return state_->history; }
const TrainOptions& Trainer::options() const { return state_->options; }

LossSummary evaluate_loss(model::Vae& model, const data::CellData& data,
                          const std::vector<std::int64_t>& rows, std::int64_t batch_size,
                          double kl_weight, torch::Generator& generator) {
  if (rows.empty()) throw InputError("no cells to evaluate");
  if (batch_size < 1)
    throw InputError("--batch-size must be >= 1 (got " + std::to_string(batch_size) + ")");
  torch::NoGradGuard no_grad;
  ModeGuard mode(model);
  model->eval();
  const data::BatchOptions options = batch_options_of(model);
  data::BatchBuffers buffers;
  std::array<double, 4> sums{0, 0, 0, 0};
  std::vector<std::int64_t> chunk;
  const auto n = static_cast<std::int64_t>(rows.size());
  for (std::int64_t begin = 0; begin < n; begin += batch_size) {
    const std::int64_t end = std::min(n, begin + batch_size);
    chunk.assign(rows.begin() + begin, rows.begin() + end);
    const model::LossTerms terms =
        model->loss(batch_for(model, data, chunk, options, &buffers), generator, kl_weight);
    const std::array<double, 4> b = term_sums(terms);
    for (std::size_t k = 0; k < sums.size(); ++k) sums[k] += b[k];
  }
  return mean_summary(sums, static_cast<double>(n));
}

}  // namespace cellvae::train
