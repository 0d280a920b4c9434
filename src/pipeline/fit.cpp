#include "cellvae/pipeline/fit.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "cellvae/count_check.hpp"
#include "cellvae/error.hpp"
#include "cellvae/preprocess/preprocess.hpp"
#include "cellvae/preprocess/split.hpp"
#include "cellvae/threads.hpp"

namespace cellvae::pipeline {
namespace {

// Count models need non-negative whole numbers; the VAExprs transform only non-negative finite
// values. The message says which likelihood asked.
void check_values(const Dataset& data, const FitOptions& options) {
  const bool counts = model::is_count_likelihood(options.model.likelihood);
  try {
    check_counts(data, {!counts || options.allow_non_integer});
  } catch (const InputError& e) {
    if (!counts) throw;
    throw InputError(std::string(e.what()) + " (likelihood '" +
                     std::string(model::to_string(options.model.likelihood)) +
                     "' models counts; for continuous values use --likelihood gaussian or "
                     "bernoulli)");
  }
}

std::vector<std::int64_t> iota_from(std::int64_t begin, std::int64_t end) {
  std::vector<std::int64_t> v;
  v.reserve(static_cast<std::size_t>(end - begin));
  for (std::int64_t i = begin; i < end; ++i) v.push_back(i);
  return v;
}

torch::Tensor codes_tensor(const std::vector<std::int32_t>& codes, std::int64_t n) {
  if (codes.empty()) return torch::full({n}, -1, torch::kLong);
  return torch::tensor(std::vector<std::int64_t>(codes.begin(), codes.end()), torch::kLong);
}

template <class T>
std::vector<T> pick(const std::vector<T>& v, const std::vector<std::int64_t>& rows) {
  std::vector<T> out;
  if (v.empty()) return out;
  out.reserve(rows.size());
  for (std::int64_t r : rows) out.push_back(v[static_cast<std::size_t>(r)]);
  return out;
}

}  // namespace

TrainingCells summarize_training_cells(model::Vae& module, const data::CellData& data,
                                       const std::vector<std::int64_t>& rows,
                                       const std::vector<std::int32_t>& label_codes,
                                       const std::vector<std::int32_t>& batch_codes) {
  torch::NoGradGuard no_grad;
  const auto device = module->parameters().empty() ? torch::Device(torch::kCPU)
                                                   : module->parameters().front().device();
  constexpr std::size_t kChunk = 1024;
  std::vector<torch::Tensor> means, variances;
  const bool was_training = module->is_training();
  module->eval();
  for (std::size_t begin = 0; begin < rows.size(); begin += kChunk) {
    std::vector<std::int64_t> chunk(rows.begin() + begin,
                                    rows.begin() + std::min(rows.size(), begin + kChunk));
    const model::Encoding enc = module->encode(data::make_batch(data, chunk, {device}));
    const torch::Tensor m = enc.z.z.mean, v = enc.z.z.log_variance.exp();
    if (module->config().prior == model::PriorKind::gaussian_mixture) {
      // Moments of the mixture sum_k q(y=k|x) N(m_k, v_k) (law of total variance).
      const torch::Tensor w = torch::softmax(enc.z.component_logits, 1).unsqueeze(2);
      const torch::Tensor mean = (w * m).sum(1);
      means.push_back(mean.to(torch::kCPU));
      variances.push_back(((w * (v + m * m)).sum(1) - mean * mean).clamp_min(0).to(torch::kCPU));
    } else {
      means.push_back(m.to(torch::kCPU));
      variances.push_back(v.to(torch::kCPU));
    }
  }
  module->train(was_training);
  TrainingCells t;
  const std::int64_t d = module->config().latent_dim;
  t.latent_mean = means.empty() ? torch::zeros({0, d}) : torch::cat(means).to(torch::kFloat);
  t.latent_variance =
      variances.empty() ? torch::zeros({0, d}) : torch::cat(variances).to(torch::kFloat);
  const auto n = static_cast<std::int64_t>(rows.size());
  t.labels = codes_tensor(pick(label_codes, rows), n);
  t.batches = codes_tensor(pick(batch_codes, rows), n);
  // Totals of all rows, then the training ones (a select_rows copy would hold the training
  // counts twice).
  const std::vector<double> all_sums = row_sums(data.counts);
  std::vector<float> sums;
  sums.reserve(rows.size());
  for (std::int64_t r : rows) sums.push_back(static_cast<float>(all_sums[static_cast<std::size_t>(r)]));
  t.library = torch::tensor(sums, torch::kFloat);
  return t;
}

FitResult fit(Dataset data, const Dataset* validation, const FitOptions& options_in,
              const FitCallbacks& callbacks) {
  const auto started = std::chrono::steady_clock::now();
  FitOptions options = options_in;
  train::validate(options.train);
  if (!(options.validation_fraction >= 0 && options.validation_fraction < 1))
    throw InputError("--validation-split must be in [0, 1) (got " +
                     std::to_string(options.validation_fraction) + ")");
  check_values(data, options);
  if (validation) check_values(*validation, options);

  FitResult result;
  const std::string source = data.source;
  const std::int64_t n_input_cells = data.n_cells();
  PreprocessResult pre = preprocess(std::move(data), options.preprocess);
  result.warnings = pre.warnings;
  {
    // Input rows that survived: filtered cells minus those emptied by the HVG selection.
    std::vector<bool> emptied(pre.filter.kept_cells.size(), false);
    for (std::int64_t i : pre.cells_empty_after_hvg) emptied[static_cast<std::size_t>(i)] = true;
    for (std::size_t i = 0; i < pre.filter.kept_cells.size(); ++i)
      if (!emptied[i]) result.kept_cells.push_back(pre.filter.kept_cells[i]);
  }

  // Resolve the architecture from the data.
  model::ModelConfig& cfg = options.model;
  cfg.n_genes = pre.data.n_genes();
  cfg.n_labels = options.condition_on_labels && pre.state.labels ? pre.state.labels->encoder.size()
                                                                 : 0;
  cfg.n_batches = options.use_batches && pre.state.batches ? pre.state.batches->encoder.size() : 0;
  if (cfg.prior == model::PriorKind::gaussian_mixture && options.components_from_labels &&
      pre.state.labels)
    cfg.components = pre.state.labels->encoder.size();
  model::validate(cfg);

  // Training and validation cells: one CellData, validation rows after the training rows when
  // a separate validation file is given.
  // The preprocessed matrix moves into the training data: one copy of the counts fewer (on 1M
  // cells x 2k genes, 1.7 GB).
  const std::int64_t n_main = pre.data.n_cells();
  data::CellData cells;
  cells.counts = std::move(pre.data.X);
  std::vector<std::int32_t> label_codes = pre.label_codes;
  std::vector<std::int32_t> batch_codes = pre.batch_codes;
  if (validation) {
    ApplyStateResult v = apply_preprocess_state(pre.state, *validation);
    cells.counts = stack_rows(cells.counts, v.data.X);
    label_codes.insert(label_codes.end(), v.label_codes.begin(), v.label_codes.end());
    batch_codes.insert(batch_codes.end(), v.batch_codes.begin(), v.batch_codes.end());
    result.train_cells = iota_from(0, n_main);
    result.validation_cells = iota_from(n_main, cells.counts.n_rows);
  } else {
    SplitOptions split;
    split.validation_fraction = options.validation_fraction;
    split.seed = options.train.seed;
    split.strata = !label_codes.empty() ? label_codes : batch_codes;
    SplitResult s = split_cells(n_main, split);
    result.train_cells = std::move(s.train);
    result.validation_cells = std::move(s.validation);
  }
  if (cfg.n_labels > 0) cells.labels = label_codes;
  if (cfg.n_batches > 0) cells.batches = batch_codes;
  if (cfg.input == model::InputKind::identity) {
    pre.state.input_transform = fit_input_transform(cells.counts, result.train_cells);
    cells.transform = pre.state.input_transform;
  }

  if (options.train.threads) configure_threads(*options.train.threads);
  model::Vae module(cfg);
  train::Trainer trainer(module, cells, result.train_cells, result.validation_cells,
                         options.train);
  if (callbacks.on_start)
    callbacks.on_start(trainer.max_epochs(), static_cast<std::int64_t>(result.train_cells.size()),
                       static_cast<std::int64_t>(result.validation_cells.size()));
  while (!trainer.done()) {
    const train::EpochRecord& record = trainer.run_epoch(callbacks.on_batch);
    if (callbacks.on_epoch) callbacks.on_epoch(record, trainer.max_epochs());
  }

  TrainedModel& out = result.model;
  out.history = trainer.finish();
  out.options = options;
  out.options.train.epochs = trainer.max_epochs();
  out.module = module;
  out.training =
      summarize_training_cells(module, cells, result.train_cells, label_codes, batch_codes);
  out.module->to(torch::kCPU);
  out.preprocess = pre.state;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  out.data_info = {{"source", source},
                   {"n_cells", n_input_cells},
                   {"n_cells_kept", n_main},
                   {"n_train", result.train_cells.size()},
                   {"n_validation", result.validation_cells.size()},
                   {"validation_source", validation ? validation->source : std::string()},
                   {"epochs", out.history.epochs.size()},
                   {"best_epoch", out.history.best_epoch},
                   {"stopped_early", out.history.stopped_early},
                   {"seconds", seconds},
                   {"threads", torch::get_num_threads()},
                   {"runtime", runtime_description()}};
  if (validation) result.validation_cells.clear();  // not rows of the input
  return result;
}

}  // namespace cellvae::pipeline
