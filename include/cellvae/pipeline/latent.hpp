// What a trained model says about real cells: their latent embedding (`cellvae embed`), their
// denoised expression (`cellvae denoise`) and clusters in the latent space (`cellvae cluster`).
// Each is one library call on a TrainedModel (model_dir.hpp) and the cells prepared for it
// (cell_data_for); the CLI only reads the files, fills the options and writes the results.
//
// Everything runs on the device of the model's module, in chunks of `batch_size` cells, so
// memory grows with the chunk, not with the data set. Results come back on the CPU. The module
// is switched to eval mode for the call (batch norm uses its running statistics, no dropout) and
// put back in its previous mode afterwards.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cellvae/analysis/gaussian_mixture.hpp"
#include "cellvae/csr_matrix.hpp"
#include "cellvae/data/cell_data.hpp"
#include "cellvae/data_frame.hpp"
#include "cellvae/dataset.hpp"
#include "cellvae/pipeline/model_dir.hpp"

namespace cellvae::pipeline {

// ---- embed -----------------------------------------------------------------------------------

struct EmbedOptions {
  /// Cells per encoder pass, >= 1. Each cell is encoded on its own (eval mode), so the chunk
  /// size changes results only by float rounding (BLAS picks its kernels by the number of
  /// rows); the same chunk size gives bit-identical results.
  std::int64_t batch_size = 1024;
};

struct Embedding {
  /// Posterior means of z, cells x D, float32 (VaeImpl::latent_mean: q(z|x)'s mean; for the
  /// Gaussian-mixture prior the q(y|x)-weighted average of the component means).
  torch::Tensor latent_mean;
  /// Gaussian-mixture prior only: q(y|x), cells x K, float32, rows summing to 1; undefined
  /// for the standard normal prior.
  torch::Tensor component_probabilities;
  /// Gaussian-mixture prior only: argmax of each row of component_probabilities (ties to the
  /// lower component), 0 .. K-1; empty otherwise.
  std::vector<std::int32_t> components;
};

/// Prepares `data` for embed() and cluster(): cell_data_for with only the covariates the
/// encoder reads. Labels are read only when the model feeds them to its encoder (a CVAE with
/// labels_in_encoder), batches only with batches_in_encoder; other label/batch columns are
/// neither required nor checked, so cells of a batch or label the model never saw can be
/// embedded by a model whose encoder ignores batches (scVI's default). Throws InputError as
/// cell_data_for (missing genes, missing required column, unknown category, invalid counts).
data::CellData cells_to_embed(const TrainedModel& model, const Dataset& data);

/// The embedding of every cell of `cells` (from cells_to_embed, or cell_data_for). Throws
/// InputError for batch_size < 1, and as VaeImpl::encode for missing covariate codes the
/// encoder needs.
Embedding embed(const TrainedModel& model, const data::CellData& cells,
                const EmbedOptions& options = {});

// ---- denoise ---------------------------------------------------------------------------------

struct DenoiseOptions {
  /// Count likelihoods with a library (observed or latent): decode every cell at this total
  /// count (> 0) instead of its own. Empty: each cell at its own observed total over the model's
  /// genes, max(1, sum), for latent-library models too (not q(l|x)'s mean), so that outputs of
  /// observed- and latent-library models are on the same scale as the data. InputError for a
  /// model without a library (library 'none': bernoulli, gaussian, or counts decoded directly).
  std::optional<double> library_size;
  /// A batch category name (the model's batch encoder): decode every cell as if it came from
  /// this batch, the counterfactual that removes batch effects from the decoder's side. The
  /// encoder still sees the cell's own batch when the model feeds batches to it. Empty: each
  /// cell's own batch. InputError for an unknown name (listing the model's batches) and for a
  /// model not conditioned on batches.
  std::optional<std::string> transform_batch;
  /// Cells per pass, >= 1. Changes results only by float rounding (as EmbedOptions).
  std::int64_t batch_size = 1024;
};

struct Denoised {
  /// Expected expression, cells x model genes (CSR, float32, exact zeros dropped; in practice
  /// nearly dense). Likelihood::mean of the decoder's outputs at z = the posterior mean of
  /// q(z|x) (not averaged over posterior draws, so deterministic): mu for poisson and nb,
  /// (1 - pi) mu for zip and zinb (so zero-inflated rows sum to less than the library size),
  /// the mean for gaussian, p for bernoulli. For models on the VAExprs input transform
  /// (bernoulli/gaussian on min-max scaled data) the min-max scaling is undone: values are
  /// log2-normalized expression, log2(count / size factor + 1), as VAExprs reports them.
  CsrMatrix expression;
  /// The batch code every cell was decoded with, when transform_batch was given.
  std::optional<std::int32_t> transform_batch_code;
};

/// Throws the InputError denoise() would for these options on this model (library_size,
/// transform_batch, batch_size), without touching any data.
void check_denoise_options(const TrainedModel& model, const DenoiseOptions& options);

/// Prepares `data` for denoise(): cell_data_for reading labels whenever the model has them
/// (its decoder reads them) and batches when the model has them, except that with
/// transform_batch they are read only when the encoder uses them (batches_in_encoder).
/// Calls check_denoise_options first. Throws InputError as cell_data_for.
data::CellData cells_to_denoise(const TrainedModel& model, const Dataset& data,
                                const DenoiseOptions& options);

/// Denoised expression of every cell of `cells` (from cells_to_denoise, or cell_data_for).
/// Throws InputError as described at DenoiseOptions, for library_size <= 0 or non-finite,
/// and batch_size < 1.
Denoised denoise(const TrainedModel& model, const data::CellData& cells,
                 const DenoiseOptions& options = {});

// ---- cluster ---------------------------------------------------------------------------------

enum class ClusterMethod {
  /// k-means++ with restarts on the latent means (analysis::run_kmeans).
  kmeans,
  /// A Gaussian mixture fitted by EM to the latent means; K given, or chosen by BIC together
  /// with the covariance type (analysis::select_gaussian_mixture).
  gmm,
  /// The model's own mixture component: argmax_k q(y=k|x) of a Gaussian-mixture-prior model
  /// (GMVAE). No fitting.
  model,
};
/// "kmeans", "gmm", "model".
std::string_view to_string(ClusterMethod method);
/// Inverse of to_string; throws InputError listing the valid names.
ClusterMethod parse_cluster_method(std::string_view name);

struct ClusterOptions {
  ClusterMethod method = ClusterMethod::kmeans;
  /// Number of clusters, >= 1 and <= the number of cells. kmeans: when empty, the number of
  /// label categories recorded in the model (fit with a label key), else InputError. gmm: when
  /// empty, K in 1 .. max_components and the covariance type are chosen by BIC; when given,
  /// a full-covariance mixture with exactly K components. model: must stay empty (K is the
  /// model's number of components).
  std::optional<std::int64_t> clusters;
  /// gmm with K chosen by BIC: the largest K tried (mclust's and VAExprs's 9). >= 1.
  std::int64_t max_components = 9;
  /// Independent starts, the best kept (lowest inertia for kmeans, highest likelihood for
  /// gmm). >= 1. Empty: 10 for kmeans (scikit-learn's classic default), 1 for gmm (its
  /// GaussianMixture default; every BIC candidate gets this many). Ignored by model.
  std::optional<int> restarts;
  /// Seeds the k-means++ draws (kmeans, and the k-means start of gmm).
  std::uint64_t seed = 0;
  /// Cells per encoder pass, >= 1 (as EmbedOptions).
  std::int64_t batch_size = 1024;
};

struct Clustering {
  ClusterMethod method = ClusterMethod::kmeans;
  /// The number of clusters used: as given, resolved from the labels (kmeans), selected by BIC
  /// or the model's K (gmm, model). Clusters may be empty for gmm and model.
  std::int64_t clusters = 0;
  int restarts = 0;                  ///< as resolved (0 for model)
  std::vector<std::int32_t> labels;  ///< per cell, 0 .. clusters-1
  std::vector<std::int64_t> sizes;   ///< cells per cluster, length `clusters`
  /// gmm: the fitted mixture (covariance type and BIC included); undefined tensors otherwise.
  analysis::GaussianMixture mixture;
  bool selected_by_bic = false;  ///< gmm without `clusters`
};

/// Clusters every cell of `cells` (from cells_to_embed, or cell_data_for) in the
/// model's latent space. Throws InputError for invalid options (naming the CLI flag: "-k",
/// "--restarts"), for method model on a model without a Gaussian-mixture prior, and as
/// run_kmeans / fit_gaussian_mixture / select_gaussian_mixture.
Clustering cluster(const TrainedModel& model, const data::CellData& cells,
                   const ClusterOptions& options = {});

/// The same on an embedding already computed (method model reads its components).
Clustering cluster(const TrainedModel& model, const Embedding& embedding,
                   const ClusterOptions& options = {});

/// Agreement of a clustering with a reference annotation (an obs column such as cell type).
struct ClusterAgreement {
  double adjusted_rand_index = 0;            ///< analysis::adjusted_rand_index
  double normalized_mutual_information = 0;  ///< analysis::normalized_mutual_information
  std::int64_t n_compared = 0;    ///< cells with a reference value (the metrics use only these)
  std::int64_t n_missing = 0;     ///< cells without one (missing categorical, "", NaN)
  std::int64_t n_categories = 0;  ///< distinct reference values among the compared cells
};

/// Compares `clusters` (one per cell) with the column's values; cells with a missing value are
/// left out. The column may be categorical, string, integer, boolean or number (values compared
/// as text). Throws InputError when the lengths differ or no cell has a value.
ClusterAgreement compare_with_reference(const std::vector<std::int32_t>& clusters,
                                        const Column& reference);

}  // namespace cellvae::pipeline
