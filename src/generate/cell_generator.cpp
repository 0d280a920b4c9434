#include "cellvae/generate/cell_generator.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "cellvae/error.hpp"
#include "cellvae/model/likelihood_kind.hpp"
#include "cellvae/preprocess/input_transform.hpp"
#include "cellvae/train/trainer.hpp"

namespace cellvae::generate {
namespace {

std::vector<std::int32_t> codes_of(const torch::Tensor& t) {
  std::vector<std::int32_t> out;
  if (!t.defined()) return out;
  const torch::Tensor c = t.to(torch::kInt64).contiguous().cpu();
  const auto* p = c.data_ptr<std::int64_t>();
  out.assign(p, p + c.numel());
  return out;
}

torch::Tensor int64_tensor(const std::vector<std::int32_t>& v, std::int64_t begin,
                           std::int64_t end) {
  torch::Tensor t = torch::empty({end - begin}, torch::kInt64);
  auto* p = t.data_ptr<std::int64_t>();
  for (std::int64_t i = begin; i < end; ++i) p[i - begin] = v[static_cast<std::size_t>(i)];
  return t;
}

// A uniformly chosen element of a non-empty list.
std::int64_t pick(const std::vector<std::int64_t>& rows, Rng& rng) {
  return rows[static_cast<std::size_t>(rng.below(rows.size()))];
}

}  // namespace

CellGenerator::CellGenerator(const pipeline::TrainedModel& model, const GenerateOptions& options,
                             const data::CellData* from)
    : model_(model),
      module_(model.module),
      from_(from),
      options_(options),
      rng_(options.seed),
      generator_(train::make_generator(torch::kCPU, options.seed)) {
  const model::ModelConfig& cfg = module_->config();
  if (options.n_cells < 1)
    throw InputError("-n: the number of cells must be >= 1 (got " +
                     std::to_string(options.n_cells) + ")");
  sampler_ = options.sampler.value_or(cfg.prior == model::PriorKind::gaussian_mixture
                                          ? SamplerKind::prior
                                          : SamplerKind::gmm);
  if (sampler_ == SamplerKind::posterior && (from == nullptr || from->counts.n_rows == 0))
    throw InputError("--sampler posterior needs real cells to draw around (--from DATA)");
  if (sampler_ != SamplerKind::posterior && from != nullptr)
    throw InputError("--from DATA is used only by --sampler posterior");
  if (options.component) {
    if (sampler_ != SamplerKind::prior || cfg.prior != model::PriorKind::gaussian_mixture)
      throw InputError("--component applies to --sampler prior of a Gaussian-mixture-prior "
                       "model (--prior gmm)");
    if (*options.component < 0 || *options.component >= cfg.components)
      throw InputError("--component must be in 0.." + std::to_string(cfg.components - 1) +
                       " (got " + std::to_string(*options.component) + ")");
  }
  if (options.counts && model::is_count_likelihood(cfg.likelihood))
    throw InputError("--counts applies to bernoulli/gaussian models; this model's likelihood (" +
                     std::string(model::to_string(cfg.likelihood)) + ") already gives counts");
  if (options.library_size && !(std::isfinite(*options.library_size) && *options.library_size > 0))
    throw InputError("--library-size must be > 0 (got " + std::to_string(*options.library_size) +
                     ")");
  if (options.max_components < 1) throw InputError("--max-components must be >= 1");

  n_total_ = options.n_cells;
  plan_labels_and_batches(options);
  provenance_ = {{"sampler", std::string(to_string(sampler_))},
                 {"seed", options.seed},
                 {"n_cells", n_total_},
                 {"likelihood", std::string(model::to_string(cfg.likelihood))},
                 {"values", values_description()}};
  if (options.library_size) provenance_["library_size"] = *options.library_size;
  if (options.component) provenance_["component"] = *options.component;
  if (sampler_ == SamplerKind::gmm) fit_mixtures(options);
  if (sampler_ == SamplerKind::prior && cfg.prior == model::PriorKind::gaussian_mixture &&
      !options.component && model_.preprocess.labels)
    tie_components_to_labels();
}

std::string CellGenerator::values_description() const {
  const model::ModelConfig& cfg = module_->config();
  if (model::is_count_likelihood(cfg.likelihood))
    return options_.mean ? "expected counts (decoder mean)" : "counts drawn from the likelihood";
  if (!model_.preprocess.input_transform)
    return options_.mean || !options_.counts ? "decoder mean" : "counts (Poisson draws)";
  if (!options_.counts) return "log-normalized values (de-scaled decoder mean, as VAExprs)";
  return options_.mean ? "expected counts through the training size factors"
                       : "counts through the training size factors (Poisson draws)";
}

void CellGenerator::plan_labels_and_batches(const GenerateOptions& options) {
  const PreprocessState& pre = model_.preprocess;
  const std::vector<std::int32_t> train_labels = codes_of(model_.training.labels);
  const std::vector<std::int32_t> train_batches = codes_of(model_.training.batches);
  const std::int64_t n_train = model_.training.latent_mean.size(0);
  for (std::int64_t i = 0; i < n_train; ++i) {
    const std::int32_t l = train_labels.empty() ? -1 : train_labels[static_cast<std::size_t>(i)];
    const std::int32_t b =
        train_batches.empty() ? -1 : train_batches[static_cast<std::size_t>(i)];
    by_label_batch_[{l, b}].push_back(i);
    by_label_[l].push_back(i);
    all_training_.push_back(i);
  }
  if (all_training_.empty()) throw InputError("the model records no training cells");

  labels_.assign(static_cast<std::size_t>(n_total_), -1);
  batches_.assign(static_cast<std::size_t>(n_total_), -1);

  if (sampler_ == SamplerKind::posterior) {
    if (!options.label_counts.empty())
      throw InputError("--labels cannot be used with --sampler posterior: each cell keeps the "
                       "label of the real cell it is drawn around");
    const std::int64_t n_from = from_->counts.n_rows;
    for (std::int64_t i = 0; i < n_total_; ++i) {
      const auto s = static_cast<std::size_t>(i % n_from);
      if (!from_->labels.empty()) labels_[static_cast<std::size_t>(i)] = from_->labels[s];
      if (!from_->batches.empty()) batches_[static_cast<std::size_t>(i)] = from_->batches[s];
    }
  } else if (!options.label_counts.empty()) {
    if (!pre.labels)
      throw InputError("--labels: the model was trained without a label key (fit --label-key)");
    std::int64_t total = 0;
    std::size_t at = 0;
    for (const auto& [name, count] : options.label_counts) {
      std::int32_t code = -1;
      try {
        code = pre.labels->encoder.code(name);
      } catch (const InputError& e) {
        throw InputError(std::string("--labels: ") + e.what());
      }
      if (count > 0 && by_label_.find(code) == by_label_.end())
        throw InputError("--labels: label '" + name + "' has no training cells in this model");
      total += count;
      if (total > n_total_) break;
      for (std::int64_t k = 0; k < count; ++k) labels_[at++] = code;
    }
    if (total != n_total_)
      throw InputError("--labels: the counts sum to " + std::to_string(total) + ", but -n asks for " +
                       std::to_string(n_total_) + " cells");
  } else if (pre.labels) {
    // Each cell takes the label of a uniformly drawn training cell: the training frequencies.
    for (auto& l : labels_) l = train_labels[static_cast<std::size_t>(pick(all_training_, rng_))];
  }

  if (options.batch) {
    if (!pre.batches)
      throw InputError("--batch: the model was trained without a batch key (fit --batch-key)");
    const auto& known = pre.batches->encoder.categories;
    const auto it = std::find(known.begin(), known.end(), *options.batch);
    if (it == known.end())
      throw InputError("--batch: unknown batch '" + *options.batch + "'; known: " +
                       join_names(known));
    const auto code = static_cast<std::int32_t>(it - known.begin());
    std::fill(batches_.begin(), batches_.end(), code);
  } else if (pre.batches && sampler_ != SamplerKind::posterior && !train_batches.empty()) {
    for (std::size_t i = 0; i < batches_.size(); ++i) {
      auto it = by_label_.find(labels_[i]);
      const auto& rows = it != by_label_.end() ? it->second : all_training_;
      batches_[i] = train_batches[static_cast<std::size_t>(pick(rows, rng_))];
    }
  }
}

void CellGenerator::fit_mixtures(const GenerateOptions& options) {
  const PreprocessState& pre = model_.preprocess;
  std::vector<std::int32_t> wanted(labels_.begin(), labels_.end());
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());

  nlohmann::json mixtures = nlohmann::json::array();
  const bool use_samples = options.mixture_input == MixtureInput::samples &&
                           model_.training.latent_variance.defined() &&
                           model_.training.latent_variance.numel() > 0;
  provenance_["mixture_input"] =
      std::string(to_string(use_samples ? MixtureInput::samples : MixtureInput::means));
  const model::ModelConfig& cfg = module_->config();
  library_given_z_ = options.library_source == LibrarySource::regression && !options.library_size &&
                   cfg.library != model::LibraryKind::none &&
                   model_.training.library.defined() &&
                   model_.training.library.numel() == model_.training.latent_mean.size(0);
  if (cfg.library != model::LibraryKind::none && !options.library_size)
    provenance_["library_source"] = std::string(
        to_string(library_given_z_ ? LibrarySource::regression : LibrarySource::cells));
  for (std::int32_t label : wanted) {
    const std::string name = label >= 0 && pre.labels ? pre.labels->encoder.name(label) : "all";
    auto it = by_label_.find(label);
    std::vector<std::int64_t> rows = it != by_label_.end() ? it->second : all_training_;
    const std::int64_t n_rows = static_cast<std::int64_t>(rows.size());
    if (n_rows < 2)
      throw InputError("label '" + name + "' has " + std::to_string(n_rows) +
                       " training cell(s): too few for a latent mixture; use --sampler prior");
    if (n_rows > options.max_mixture_cells) {
      rng_.shuffle(rows);
      rows.resize(static_cast<std::size_t>(options.max_mixture_cells));
      std::sort(rows.begin(), rows.end());
    }
    const torch::Tensor index = torch::tensor(rows, torch::kInt64);
    torch::Tensor x = model_.training.latent_mean.index_select(0, index).to(torch::kDouble);
    if (use_samples) {
      const torch::Tensor sd =
          model_.training.latent_variance.index_select(0, index).to(torch::kDouble).sqrt();
      x = x + sd * torch::randn(x.sizes(), generator_, torch::kDouble);
    }
    if (library_given_z_) {
      const torch::Tensor log_l =
          model_.training.library.index_select(0, index).to(torch::kDouble).clamp_min(1.0).log();
      const torch::Tensor design = torch::cat({x, torch::ones({x.size(0), 1}, x.options())}, 1);
      LibraryRegression fit;
      fit.coefficients = std::get<0>(torch::linalg_lstsq(design, log_l.unsqueeze(1))).squeeze(1);
      const torch::Tensor residual = log_l - design.matmul(fit.coefficients);
      const double dof = static_cast<double>(std::max<std::int64_t>(1, x.size(0) - design.size(1)));
      fit.residual_sd = std::sqrt(residual.pow(2).sum().item<double>() / dof);
      library_regression_[label] = fit;
    }
    analysis::GaussianMixtureSelectionOptions select;
    select.max_components = options.max_components;
    select.fit.seed = options.seed;
    // At most one parameter per two cells: small labels (a few dozen cells in 10 dimensions)
    // otherwise get many full-covariance components that sit on individual training cells.
    select.max_parameters_per_row = 0.5;
    const analysis::GaussianMixtureSelection chosen = analysis::select_gaussian_mixture(x, select);
    mixtures.push_back({{"label", name},
                        {"training_cells", n_rows},
                        {"fitted_cells", static_cast<std::int64_t>(rows.size())},
                        {"components", chosen.best.components()},
                        {"covariance", std::string(analysis::to_string(chosen.best.covariance))},
                        {"bic", chosen.best.bic}});
    mixtures_.emplace(label, chosen.best);
  }
  provenance_["mixtures"] = mixtures;
}

void CellGenerator::tie_components_to_labels() {
  // The mixture prior's components are learned without labels, so a label's cells spread over
  // the components in their own proportions: p(y = k | label) = the mean prior responsibility
  // of the label's training cells. Drawing y from it keeps generated cells of a label in that
  // label's part of the latent space.
  torch::NoGradGuard no_grad;
  const torch::Tensor r = module_->prior()
                              .responsibilities(model_.training.latent_mean.to(
                                  module_->prior().parameters().empty()
                                      ? torch::kFloat
                                      : module_->prior().parameters().front().scalar_type()))
                              .to(torch::kDouble);
  nlohmann::json tied = nlohmann::json::object();
  for (const auto& [label, rows] : by_label_) {
    if (label < 0) continue;
    const torch::Tensor w = r.index_select(0, torch::tensor(rows, torch::kInt64)).mean(0);
    component_given_label_[label] = w;
    tied[model_.preprocess.labels->encoder.name(label)] =
        w.argmax().item<std::int64_t>();
  }
  provenance_["main_component_per_label"] = tied;
}

GeneratedChunk CellGenerator::next(std::int64_t max_cells) {
  GeneratedChunk chunk;
  const model::ModelConfig& cfg = module_->config();
  const std::int64_t begin = n_done_;
  const std::int64_t end = std::min(n_total_, begin + std::max<std::int64_t>(1, max_cells));
  if (begin >= end) {
    chunk.values.n_rows = 0;
    chunk.values.n_cols = static_cast<std::int64_t>(model_.preprocess.genes.size());
    chunk.values.indptr.assign(1, 0);
    return chunk;
  }
  torch::NoGradGuard no_grad;
  module_->eval();

  const torch::Tensor z = sample_latent(begin, end, chunk.source_cells);
  const torch::Tensor log_lib = log_library(begin, end, chunk.source_cells, chunk.library);
  const torch::Tensor labels =
      cfg.n_labels > 0 ? int64_tensor(labels_, begin, end) : torch::Tensor();
  const torch::Tensor batches =
      cfg.n_batches > 0 ? int64_tensor(batches_, begin, end) : torch::Tensor();
  const model::LikelihoodParams params = module_->decode(z, log_lib, labels, batches);
  chunk.values = output_values(params, chunk.library);

  if (model_.preprocess.labels)
    chunk.labels.assign(labels_.begin() + begin, labels_.begin() + end);
  if (model_.preprocess.batches)
    chunk.batches.assign(batches_.begin() + begin, batches_.begin() + end);
  n_done_ = end;
  return chunk;
}

torch::Tensor CellGenerator::sample_latent(std::int64_t begin, std::int64_t end,
                                           std::vector<std::int64_t>& sources) {
  const std::int64_t n = end - begin;
  const std::int64_t d = module_->config().latent_dim;
  if (sampler_ == SamplerKind::prior) {
    if (component_given_label_.empty())
      return module_->prior().sample(n, generator_, options_.component).z.to(torch::kFloat);
    // A component per cell from p(y | label), then z from that component, in groups.
    std::map<std::int32_t, std::vector<std::int64_t>> rows_of_label;
    for (std::int64_t i = begin; i < end; ++i)
      rows_of_label[labels_[static_cast<std::size_t>(i)]].push_back(i - begin);
    std::map<std::int64_t, std::vector<std::int64_t>> rows_of_component;
    for (const auto& [label, rows] : rows_of_label) {
      const torch::Tensor k = torch::multinomial(component_given_label_.at(label),
                                                 static_cast<std::int64_t>(rows.size()), true,
                                                 generator_);
      for (std::size_t j = 0; j < rows.size(); ++j)
        rows_of_component[k[static_cast<std::int64_t>(j)].item<std::int64_t>()].push_back(rows[j]);
    }
    torch::Tensor z = torch::empty({n, d}, torch::kFloat);
    for (const auto& [k, rows] : rows_of_component) {
      const torch::Tensor draws =
          module_->prior().sample(static_cast<std::int64_t>(rows.size()), generator_, k).z;
      z.index_copy_(0, torch::tensor(rows, torch::kInt64), draws.to(torch::kFloat));
    }
    return z;
  }
  if (sampler_ == SamplerKind::posterior) {
    const std::int64_t n_from = from_->counts.n_rows;
    for (std::int64_t i = begin; i < end; ++i) sources.push_back(i % n_from);
    const model::CellBatch batch = data::make_batch(*from_, sources);
    const model::Encoding enc = module_->encode(batch);
    if (module_->config().prior != model::PriorKind::gaussian_mixture)
      return model::reparameterized_sample(enc.z.z, generator_);
    // Mixture posterior: a component from q(y|x), then z from q(z|x, y).
    const torch::Tensor y =
        torch::multinomial(torch::softmax(enc.z.component_logits, 1), 1, true, generator_);
    const torch::Tensor idx = y.unsqueeze(2).expand({n, 1, d});
    model::DiagonalGaussian q{enc.z.z.mean.gather(1, idx).squeeze(1),
                              enc.z.z.log_variance.gather(1, idx).squeeze(1)};
    return model::reparameterized_sample(q, generator_);
  }
  // gmm: each label's mixture draws for that label's cells of the chunk, in chunk order.
  torch::Tensor z = torch::empty({n, d}, torch::kFloat);
  std::map<std::int32_t, std::vector<std::int64_t>> rows_of;
  for (std::int64_t i = begin; i < end; ++i)
    rows_of[labels_[static_cast<std::size_t>(i)]].push_back(i - begin);
  chunk_log_library_.assign(library_given_z_ ? static_cast<std::size_t>(n) : 0, 0.0);
  for (const auto& [label, rows] : rows_of) {
    const analysis::MixtureSample s =
        analysis::sample(mixtures_.at(label), static_cast<std::int64_t>(rows.size()), generator_);
    z.index_copy_(0, torch::tensor(rows, torch::kInt64), s.samples.to(torch::kFloat));
    if (library_given_z_) {
      const LibraryRegression& fit = library_regression_.at(label);
      const torch::Tensor zs = s.samples.to(torch::kDouble);
      const torch::Tensor log_l =
          (zs.matmul(fit.coefficients.narrow(0, 0, d)) + fit.coefficients[d] +
           fit.residual_sd * torch::randn({zs.size(0)}, generator_, torch::kDouble))
              .contiguous();
      const double* lp = log_l.data_ptr<double>();
      for (std::size_t j = 0; j < rows.size(); ++j)
        chunk_log_library_[static_cast<std::size_t>(rows[j])] = lp[j];
    }
  }
  return z;
}

torch::Tensor CellGenerator::log_library(std::int64_t begin, std::int64_t end,
                                         const std::vector<std::int64_t>& sources,
                                         std::vector<double>& library) {
  const model::ModelConfig& cfg = module_->config();
  const std::int64_t n = end - begin;
  library.assign(static_cast<std::size_t>(n), std::numeric_limits<double>::quiet_NaN());
  const bool scaled_counts = model_.preprocess.input_transform.has_value() && options_.counts;
  if (cfg.library == model::LibraryKind::none && !scaled_counts)
    return torch::zeros({n, 1}, torch::kFloat);
  if (options_.library_size) {
    std::fill(library.begin(), library.end(), *options_.library_size);
  } else if (!chunk_log_library_.empty()) {
    // Drawn given z (sample_latent).
    for (std::int64_t i = 0; i < n; ++i)
      library[static_cast<std::size_t>(i)] =
          std::max(1.0, std::exp(chunk_log_library_[static_cast<std::size_t>(i)]));
  } else if (sampler_ == SamplerKind::posterior) {
    // Around a real cell: its inferred (latent) or own (observed) library.
    if (cfg.library == model::LibraryKind::latent) {
      const torch::Tensor l =
          module_->log_library(data::make_batch(*from_, sources)).to(torch::kDouble).exp();
      for (std::int64_t i = 0; i < n; ++i) library[static_cast<std::size_t>(i)] = l[i][0].item<double>();
    } else {
      const std::vector<double> totals = row_sums(select_rows(from_->counts, sources));
      for (std::int64_t i = 0; i < n; ++i)
        library[static_cast<std::size_t>(i)] = std::max(1.0, totals[static_cast<std::size_t>(i)]);
    }
  } else if (cfg.library == model::LibraryKind::latent) {
    // log l ~ N(m_b, v_b), the library prior the model learned with (scVI).
    const torch::Tensor m = module_->named_buffers()["library_prior_mean"].to(torch::kDouble);
    const torch::Tensor v = module_->named_buffers()["library_prior_variance"].to(torch::kDouble);
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int32_t b = batches_[static_cast<std::size_t>(begin + i)];
      const std::int64_t k = (b >= 0 && m.numel() > 1) ? b : 0;
      library[static_cast<std::size_t>(i)] = std::exp(
          m[k].item<double>() + std::sqrt(std::max(0.0, v[k].item<double>())) * rng_.normal());
    }
  } else {
    // Observed library: a training cell of the same label and batch (else label, else any).
    const torch::Tensor totals = model_.training.library.to(torch::kDouble).contiguous();
    const double* lib = totals.data_ptr<double>();
    for (std::int64_t i = 0; i < n; ++i) {
      const auto g = static_cast<std::size_t>(begin + i);
      const std::vector<std::int64_t>* rows = &all_training_;
      if (auto it = by_label_batch_.find({labels_[g], batches_[g]}); it != by_label_batch_.end())
        rows = &it->second;
      else if (auto jt = by_label_.find(labels_[g]); jt != by_label_.end())
        rows = &jt->second;
      library[static_cast<std::size_t>(i)] = std::max(1.0, lib[pick(*rows, rng_)]);
    }
  }
  torch::Tensor out = torch::empty({n, 1}, torch::kFloat);
  for (std::int64_t i = 0; i < n; ++i)
    out.data_ptr<float>()[i] = static_cast<float>(std::log(library[static_cast<std::size_t>(i)]));
  return out;
}

CsrMatrix CellGenerator::output_values(const model::LikelihoodParams& params,
                                       const std::vector<double>& library) {
  const model::ModelConfig& cfg = module_->config();
  const model::Likelihood& lik = module_->likelihood();
  torch::Tensor values;
  if (model::is_count_likelihood(cfg.likelihood)) {
    values = options_.mean ? lik.mean(params) : lik.sample(params, generator_);
  } else if (!model_.preprocess.input_transform) {
    values = lik.mean(params).clamp_min(0);
    if (options_.counts && !options_.mean) values = torch::poisson(values, generator_);
  } else {
    // VAExprs: the decoder's scaled output, de-scaled to log-normalized values, and to counts
    // through each cell's size factor when asked.
    const torch::Tensor scaled = lik.mean(params).to(torch::kFloat).contiguous();
    const std::int64_t rows = scaled.size(0), cols = scaled.size(1);
    const InputTransform& transform = *model_.preprocess.input_transform;
    std::vector<float> out(static_cast<std::size_t>(rows * cols));
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* src = scaled.data_ptr<float>() + r * cols;
      InvertTransformOptions inv;
      inv.to_counts = options_.counts;
      if (options_.counts) inv.size_factor = library[static_cast<std::size_t>(r)] / transform.reference_library;
      const std::vector<float> row =
          invert_input_transform(transform, std::vector<float>(src, src + cols), inv);
      std::copy(row.begin(), row.end(), out.begin() + r * cols);
    }
    values = torch::from_blob(out.data(), {rows, cols}, torch::kFloat).clone();
    if (options_.counts && !options_.mean) values = torch::poisson(values, generator_);
  }
  values = values.to(torch::kFloat).contiguous();
  return csr_from_dense(values.data_ptr<float>(), values.size(0), values.size(1));
}

}  // namespace cellvae::generate
