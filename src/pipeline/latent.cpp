#include "cellvae/pipeline/latent.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "cellvae/analysis/cluster_metrics.hpp"
#include "cellvae/analysis/kmeans.hpp"
#include "cellvae/enum_names.hpp"
#include "cellvae/error.hpp"

namespace cellvae::pipeline {
namespace {

constexpr NameTable<ClusterMethod, 3> kClusterMethodNames{{
    {ClusterMethod::kmeans, "kmeans"},
    {ClusterMethod::gmm, "gmm"},
    {ClusterMethod::model, "model"},
}};

// Eval mode for the duration of a call, the caller's mode restored afterwards (a module fresh
// from training may still be in train mode: dropout and batch statistics would make results
// depend on the chunk).
class EvalMode {
 public:
  explicit EvalMode(model::Vae& module) : module_(module), training_(module->is_training()) {
    module_->eval();
  }
  ~EvalMode() { module_->train(training_); }
  EvalMode(const EvalMode&) = delete;
  EvalMode& operator=(const EvalMode&) = delete;

 private:
  model::Vae& module_;
  bool training_;
};

torch::Device device_of(model::Vae& module) {
  const auto params = module->parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
}

void check_batch_size(std::int64_t batch_size) {
  if (batch_size < 1)
    throw InputError("--batch-size must be >= 1 (got " + std::to_string(batch_size) + ")");
}

// Calls f(rows) for consecutive chunks of at most `size` of the rows 0 .. n-1.
template <class F>
void for_each_chunk(std::int64_t n, std::int64_t size, F&& f) {
  for (std::int64_t begin = 0; begin < n; begin += size) {
    std::vector<std::int64_t> rows;
    const std::int64_t end = std::min(n, begin + size);
    rows.reserve(static_cast<std::size_t>(end - begin));
    for (std::int64_t i = begin; i < end; ++i) rows.push_back(i);
    f(rows);
  }
}

// A view of the model whose preprocessing state only encodes the covariates asked for: the
// others are then neither required nor checked by apply_preprocess_state.
data::CellData prepare(const TrainedModel& model, const Dataset& data, bool need_labels,
                       bool need_batches) {
  TrainedModel view;
  view.options = model.options;
  view.preprocess = model.preprocess;
  if (!need_labels) view.preprocess.labels.reset();
  if (!need_batches) view.preprocess.batches.reset();
  return cell_data_for(view, data, {need_labels, need_batches});
}

std::optional<std::int32_t> resolve_transform_batch(const TrainedModel& model,
                                                    const std::optional<std::string>& name) {
  if (!name) return std::nullopt;
  if (model.options.model.n_batches == 0 || !model.preprocess.batches)
    throw InputError("--transform-batch '" + *name +
                     "': the model is not conditioned on batches (it was fit without a batch "
                     "covariate), so its output does not depend on the batch");
  const auto& encoder = model.preprocess.batches->encoder;
  for (std::int32_t c = 0; c < encoder.size(); ++c)
    if (encoder.categories[static_cast<std::size_t>(c)] == *name) return c;
  throw InputError("--transform-batch: unknown batch '" + *name + "'; the model's batches ('" +
                   model.preprocess.batches->key + "'): " + join_names(encoder.categories));
}

// Appends the rows of a dense row-major block to a CSR matrix, dropping exact zeros.
void append_rows(CsrMatrix& m, const float* values, std::int64_t rows, std::int64_t cols) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = values + r * cols;
    for (std::int64_t c = 0; c < cols; ++c) {
      if (row[c] != 0.0F) {
        m.indices.push_back(static_cast<std::int32_t>(c));
        m.data.push_back(row[c]);
      }
    }
    m.indptr.push_back(static_cast<std::int64_t>(m.data.size()));
  }
  m.n_rows += rows;
}

std::vector<std::int64_t> cluster_sizes(const std::vector<std::int32_t>& labels, std::int64_t k) {
  std::vector<std::int64_t> sizes(static_cast<std::size_t>(k), 0);
  for (std::int32_t l : labels) ++sizes[static_cast<std::size_t>(l)];
  return sizes;
}

}  // namespace

// ---- embed -----------------------------------------------------------------------------------

data::CellData cells_to_embed(const TrainedModel& model, const Dataset& data) {
  const model::ModelConfig& c = model.options.model;
  return prepare(model, data, c.n_labels > 0 && c.labels_in_encoder,
                 c.n_batches > 0 && c.batches_in_encoder);
}

Embedding embed(const TrainedModel& model, const data::CellData& cells,
                const EmbedOptions& options) {
  check_batch_size(options.batch_size);
  model::Vae module = model.module;
  EvalMode mode(module);
  torch::NoGradGuard no_grad;
  const torch::Device device = device_of(module);
  const bool mixture = module->config().prior == model::PriorKind::gaussian_mixture;
  std::vector<torch::Tensor> means, probabilities;
  for_each_chunk(cells.counts.n_rows, options.batch_size, [&](const auto& rows) {
    const model::CellBatch batch = data::make_batch(cells, rows, {device});
    means.push_back(module->latent_mean(batch).to(torch::kCPU, torch::kFloat));
    if (mixture)
      probabilities.push_back(
          module->component_probabilities(batch).to(torch::kCPU, torch::kFloat));
  });
  Embedding e;
  e.latent_mean =
      means.empty() ? torch::zeros({0, module->config().latent_dim}) : torch::cat(means);
  if (mixture) {
    e.component_probabilities = probabilities.empty()
                                    ? torch::zeros({0, module->config().components})
                                    : torch::cat(probabilities);
    const torch::Tensor best = e.component_probabilities.argmax(1).contiguous();
    const auto* p = best.data_ptr<std::int64_t>();
    e.components.reserve(static_cast<std::size_t>(best.numel()));
    for (std::int64_t i = 0; i < best.numel(); ++i)
      e.components.push_back(static_cast<std::int32_t>(p[i]));
  }
  return e;
}

// ---- denoise ---------------------------------------------------------------------------------

void check_denoise_options(const TrainedModel& model, const DenoiseOptions& options) {
  check_batch_size(options.batch_size);
  if (options.library_size) {
    const double n = *options.library_size;
    if (!(n > 0) || !std::isfinite(n))
      throw InputError("--library-size must be a positive number (got " + std::to_string(n) + ")");
    const model::ModelConfig& c = model.options.model;
    if (c.library == model::LibraryKind::none)
      throw InputError(
          "--library-size: the model has no library size (library 'none', "
          "likelihood '" +
          std::string(model::to_string(c.likelihood)) +
          "'); its decoder gives each cell's expression directly");
  }
  resolve_transform_batch(model, options.transform_batch);
}

data::CellData cells_to_denoise(const TrainedModel& model, const Dataset& data,
                                const DenoiseOptions& options) {
  check_denoise_options(model, options);
  const model::ModelConfig& c = model.options.model;
  const bool batches_used =
      c.n_batches > 0 && (c.batches_in_encoder || !options.transform_batch.has_value());
  return prepare(model, data, c.n_labels > 0, batches_used);
}

Denoised denoise(const TrainedModel& model, const data::CellData& cells,
                 const DenoiseOptions& options) {
  check_denoise_options(model, options);
  Denoised out;
  out.transform_batch_code = resolve_transform_batch(model, options.transform_batch);

  model::Vae module = model.module;
  EvalMode mode(module);
  torch::NoGradGuard no_grad;
  const torch::Device device = device_of(module);
  const model::ModelConfig& c = module->config();
  const std::int64_t genes = c.n_genes;

  out.expression.n_cols = genes;
  out.expression.indptr.reserve(static_cast<std::size_t>(cells.counts.n_rows) + 1);
  for_each_chunk(cells.counts.n_rows, options.batch_size, [&](const auto& rows) {
    const model::CellBatch batch = data::make_batch(cells, rows, {device});
    const auto n = static_cast<std::int64_t>(rows.size());
    const torch::Tensor z = module->latent_mean(batch);
    torch::Tensor log_library;
    if (c.library != model::LibraryKind::none) {
      // A library implies a count likelihood, so batch.x holds the counts.
      log_library = options.library_size
                        ? torch::full({n, 1}, std::log(*options.library_size), z.options())
                        : torch::log(batch.x.sum(1, /*keepdim=*/true).clamp_min(1.0));
    }
    const torch::Tensor batches =
        out.transform_batch_code ? torch::full({n}, *out.transform_batch_code,
                                               torch::TensorOptions(device).dtype(torch::kLong))
                                 : batch.batches;
    const model::LikelihoodParams params = module->decode(z, log_library, batch.labels, batches);
    const torch::Tensor mean =
        module->likelihood().mean(params).to(torch::kCPU, torch::kFloat).contiguous();
    const float* values = mean.data_ptr<float>();
    if (cells.transform) {
      // Back from the min-max scale to log-normalized expression, VAExprs's output scale.
      const std::vector<float> scaled(values, values + mean.numel());
      const std::vector<float> unscaled = invert_input_transform(*cells.transform, scaled);
      append_rows(out.expression, unscaled.data(), n, genes);
    } else {
      append_rows(out.expression, values, n, genes);
    }
  });
  return out;
}

// ---- cluster ---------------------------------------------------------------------------------

std::string_view to_string(ClusterMethod method) { return name_of(kClusterMethodNames, method); }
ClusterMethod parse_cluster_method(std::string_view name) {
  return parse_name(kClusterMethodNames, name, "clustering method");
}

Clustering cluster(const TrainedModel& model, const data::CellData& cells,
                   const ClusterOptions& options) {
  return cluster(model, embed(model, cells, {options.batch_size}), options);
}

Clustering cluster(const TrainedModel& model, const Embedding& embedding,
                   const ClusterOptions& options) {
  const model::ModelConfig& config = model.options.model;
  const std::int64_t n = embedding.latent_mean.defined() ? embedding.latent_mean.size(0) : 0;
  if (n < 1) throw InputError("no cells to cluster");
  if (options.restarts && *options.restarts < 1)
    throw InputError("--restarts must be >= 1 (got " + std::to_string(*options.restarts) + ")");
  if (options.clusters) {
    if (options.method == ClusterMethod::model)
      throw InputError("-k does not apply to --method model: its clusters are the model's " +
                       std::to_string(config.components) + " mixture components");
    if (*options.clusters < 1 || *options.clusters > n)
      throw InputError("-k must be between 1 and the number of cells (" + std::to_string(n) +
                       "), got " + std::to_string(*options.clusters));
  }

  Clustering out;
  out.method = options.method;
  const torch::Tensor x = embedding.latent_mean.to(torch::kDouble);
  switch (options.method) {
    case ClusterMethod::kmeans: {
      std::int64_t k = 0;
      if (options.clusters) {
        k = *options.clusters;
      } else if (model.preprocess.labels) {
        k = std::min<std::int64_t>(model.preprocess.labels->encoder.size(), n);
      } else {
        throw InputError(
            "--method kmeans needs -k (the number of clusters): the model was fit "
            "without a label key to take it from (--method gmm chooses K by BIC)");
      }
      analysis::KMeansOptions ko;
      ko.clusters = k;
      ko.n_init = options.restarts.value_or(10);
      ko.seed = options.seed;
      analysis::KMeansResult r = analysis::run_kmeans(x, ko);
      out.clusters = k;
      out.restarts = ko.n_init;
      out.labels = std::move(r.labels);
      break;
    }
    case ClusterMethod::gmm: {
      analysis::GaussianMixtureOptions fit;
      fit.n_init = options.restarts.value_or(1);
      fit.seed = options.seed;
      if (options.clusters) {
        fit.components = *options.clusters;
        out.mixture = analysis::fit_gaussian_mixture(x, fit);
      } else {
        if (options.max_components < 1)
          throw InputError("the largest number of mixture components to try must be >= 1 (got " +
                           std::to_string(options.max_components) + ")");
        if (n < 2) throw InputError("choosing K by BIC needs at least 2 cells");
        analysis::GaussianMixtureSelectionOptions so;
        so.min_components = 1;
        so.max_components = options.max_components;
        so.fit = fit;
        out.mixture = analysis::select_gaussian_mixture(x, so).best;
        out.selected_by_bic = true;
      }
      out.clusters = out.mixture.components();
      out.restarts = fit.n_init;
      out.labels = analysis::predict(out.mixture, x);
      break;
    }
    case ClusterMethod::model: {
      if (config.prior != model::PriorKind::gaussian_mixture)
        throw InputError(
            "--method model needs a model with a Gaussian-mixture prior (prior "
            "'gmm', e.g. --preset gmvae); this model's prior is '" +
            std::string(model::to_string(config.prior)) + "': use --method kmeans or gmm");
      if (static_cast<std::int64_t>(embedding.components.size()) != n)
        throw InputError("the embedding has no mixture components for every cell");
      out.clusters = config.components;
      out.labels = embedding.components;
      break;
    }
  }
  out.sizes = cluster_sizes(out.labels, out.clusters);
  return out;
}

ClusterAgreement compare_with_reference(const std::vector<std::int32_t>& clusters,
                                        const Column& reference) {
  if (reference.size() != clusters.size())
    throw InputError("column '" + reference.name + "' has " + std::to_string(reference.size()) +
                     " values for " + std::to_string(clusters.size()) + " clustered cells");
  std::vector<std::int32_t> a, b;
  std::unordered_map<std::string, std::int32_t> codes;
  ClusterAgreement out;
  for (std::size_t i = 0; i < clusters.size(); ++i) {
    bool missing = false;
    switch (reference.kind) {
      case ColumnKind::categorical:
        missing = reference.codes[i] < 0;
        break;
      case ColumnKind::string:
        missing = reference.strings[i].empty();
        break;
      case ColumnKind::number:
        missing = std::isnan(reference.numbers[i]);
        break;
      case ColumnKind::integer:
      case ColumnKind::boolean:
        break;
    }
    if (missing) {
      ++out.n_missing;
      continue;
    }
    const auto [it, inserted] =
        codes.emplace(reference.text(i), static_cast<std::int32_t>(codes.size()));
    a.push_back(clusters[i]);
    b.push_back(it->second);
  }
  if (a.empty())
    throw InputError("column '" + reference.name + "' has no value for any cell to compare with");
  out.n_compared = static_cast<std::int64_t>(a.size());
  out.n_categories = static_cast<std::int64_t>(codes.size());
  out.adjusted_rand_index = analysis::adjusted_rand_index(a, b);
  out.normalized_mutual_information = analysis::normalized_mutual_information(a, b);
  return out;
}

}  // namespace cellvae::pipeline
