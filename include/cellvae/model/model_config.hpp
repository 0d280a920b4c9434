// The architecture of the one cellvae VAE (vae.hpp) as a plain, torch-free options struct: VAE,
// CVAE, scVI and GMVAE are values of it, not classes. Serialised as JSON into every model
// directory, so that loading rebuilds exactly the trained module.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "cellvae/model/layer_kind.hpp"
#include "cellvae/model/likelihood_kind.hpp"
#include "cellvae/model/prior.hpp"

namespace cellvae::model {

/// What the encoder sees, given the values the likelihood models (CellBatch::x).
enum class InputKind {
  /// x are counts; the encoder sees log(1 + x) (scVI, scVAE).
  log1p,
  /// x already is the model's scale (VAExprs: log-normalized, min-max scaled to [0, 1] by the
  /// data layer, see preprocess/input_transform.hpp); the encoder sees x unchanged.
  identity,
};
/// "log1p", "identity".
std::string_view to_string(InputKind kind);
InputKind parse_input_kind(std::string_view name);

/// How a cell's sequencing depth enters the mean of a count likelihood.
enum class LibraryKind {
  /// No library size: the decoder gives the mean directly (mu = exp(head)); also the only
  /// choice for bernoulli and gaussian.
  none,
  /// Observed: mu = library * softmax(head), library = the cell's total count over the model's
  /// genes (at least 1) (scVI's use_observed_lib_size).
  observed,
  /// Latent: log library ~ q(l|x) = N(.,.) from a second encoder, with a per-batch log-normal
  /// prior N(m_b, v_b) of the training cells' log libraries (scVI); KL(q(l|x) || p(l)) joins
  /// the loss (not warmed up). mu = exp(l) * softmax(head).
  latent,
};
/// "none", "observed", "latent".
std::string_view to_string(LibraryKind kind);
LibraryKind parse_library_kind(std::string_view name);

/// How the encoder's first layer reads a minibatch. A computation choice only: both ways give
/// the same result up to float rounding (tests/model/test_sparse_linear.cpp).
enum class SparseInput {
  /// From the nonzeros (CellBatch::x_csr, sparse_linear.hpp) when the minibatch has them, the
  /// module is on the CPU, the encoder has a hidden layer and prefer_sparse_input(density,
  /// cells) holds; else dense.
  auto_,
  /// Always the dense minibatch (Linear on log1p(x)): the reference implementation.
  dense,
  /// From the nonzeros whenever CellBatch::x_csr is given (CPU, encoder with a hidden layer),
  /// whatever the density.
  sparse,
};
/// "auto", "dense", "sparse".
std::string_view to_string(SparseInput kind);
SparseInput parse_sparse_input(std::string_view name);

/// SparseInput::auto_'s rule: read a minibatch of `cells` cells whose stored entries are a
/// fraction `density` of cells x genes from its nonzeros when
///   density <= max_density - cell_cost / cells
/// (the constants are in model_config.cpp, with the measurements they come from). Why: the
/// sparse layer costs a fixed O(genes x hidden) per minibatch (transposing the weight and its
/// gradient) plus O(stored entries x hidden), the dense one O(cells x genes x hidden) at
/// matrix-product speed, so the break-even density grows with the minibatch.
bool prefer_sparse_input(double density, std::int64_t cells);

/// Every architectural choice. Defaults are scVI's (scvi preset without a batch covariate).
struct ModelConfig {
  /// Number of genes G (columns of x). > 0.
  std::int64_t n_genes = 0;
  /// Number of label categories of a conditional VAE (CVAE); 0 = unconditional. Labels are
  /// one-hot, concatenated to the encoder input (when labels_in_encoder) and to the decoder.
  std::int64_t n_labels = 0;
  /// Number of batch categories (scVI's s); 0 = none. Batches are injected like labels
  /// (encoder: when batches_in_encoder). Covariate order in the one-hot: labels, then batches.
  std::int64_t n_batches = 0;
  bool labels_in_encoder = true;
  bool batches_in_encoder = false;  ///< scVI's encode_covariates default is false

  InputKind input = InputKind::log1p;
  /// Encoder hidden widths, first to last; each > 0; may be empty (linear encoder).
  std::vector<std::int64_t> encoder_hidden{128};
  /// Decoder hidden widths, first to last; each > 0; may be empty (linear decoder).
  std::vector<std::int64_t> decoder_hidden{128};
  Activation activation = Activation::relu;
  Normalization norm = Normalization::batch;
  /// Dropout after each encoder hidden layer, [0, 1). The decoder has none (scVI).
  double dropout = 0.1;
  /// Where covariates enter the decoder MLP (the encoder always uses first_layer).
  CovariateInjection decoder_injection = CovariateInjection::first_layer;

  /// Latent dimension D, >= 1.
  std::int64_t latent_dim = 10;
  /// Added to the posterior variance: var = exp(head) + variance_epsilon (scVI: 1e-4; keeps
  /// the KL and sampling finite when the head collapses). >= 0.
  double variance_epsilon = 1e-4;
  PriorKind prior = PriorKind::standard_normal;
  /// gaussian_mixture: K >= 1 components.
  std::int64_t components = 10;
  /// gaussian_mixture: learn p(y) rather than keep it uniform.
  bool learn_component_weights = false;

  LibraryKind library = LibraryKind::observed;
  LikelihoodKind likelihood = LikelihoodKind::zinb;
  /// NB/ZINB theta, and Gaussian's log sd, per gene / gene-batch / gene-label / cell.
  /// gene_batch needs n_batches > 0, gene_label needs n_labels > 0.
  DispersionKind dispersion = DispersionKind::gene;
  /// zip/zinb with a library: divide the mean by Σ_g (1 − π_g) ρ_g so that the expected total
  /// count equals the library. scVI's μ = l ρ expects less, since the zero-inflation removes
  /// counts the softmax had already handed out; the model then cannot match every gene's mean,
  /// and on kang_pbmc the most expressed genes come out 10–15% short. false = scVI's mean.
  bool zi_expected_library = false;
  /// Compute the likelihood with the fused CPU kernels where there is one (NB, ZINB and
  /// Bernoulli, likelihood_fused.hpp; the library-scaled softmax mean, library_softmax.hpp);
  /// false = plain LibTorch. Equal to rounding.
  bool fused_likelihood = true;
  /// How the encoder's first layer reads a minibatch (dense or from its nonzeros).
  SparseInput sparse_input = SparseInput::auto_;

  /// Seed of the initial weights (torch::manual_seed before the module is built; also the
  /// mixture prior's means).
  std::uint64_t seed = 0;
};

/// Throws InputError naming the first invalid field and its value, e.g.
/// "--latent-dim must be >= 1 (got 0)", "--likelihood 'bernoulli' needs --library 'none' (got
/// 'observed')", "--dispersion 'gene-batch' needs batches: give --batch-key". Field names are
/// given as the CLI spells them. The rules beyond the ranges of single fields:
/// - bernoulli and gaussian need library none (a library size scales count means only);
/// - count likelihoods (poisson, nb, zip, zinb) need input log1p (they model raw counts);
/// - bernoulli needs input identity (it models values scaled to [0, 1]);
/// - nb, zinb and gaussian with dispersion gene-batch need n_batches > 0, with gene-label
///   n_labels > 0 (other likelihoods ignore `dispersion`);
/// - components >= 1 only with the gaussian_mixture prior.
void validate(const ModelConfig& config);

/// validate() for a config whose data-dependent fields may not be known yet: with n_genes == 0
/// (a template, e.g. the model part of fit options before the data are read, where n_genes,
/// n_labels and n_batches are later filled in from the data) it skips n_genes > 0 and the
/// dispersion rules that need batches or labels; with n_genes > 0 it is validate().
void validate_template(const ModelConfig& config);

/// JSON object with every field (enums by name).
nlohmann::json model_config_to_json(const ModelConfig& config);
/// Reads model_config_to_json's output; missing fields keep their defaults. Throws InputError
/// naming an unknown key, a mistyped key or an unknown enum name ("model config: key 'prior':
/// unknown prior 'gauss'; known: normal, gmm"), then validate_template()s: a config with
/// n_genes > 0 (as saved in a model directory) is fully validated, a template (n_genes == 0)
/// gets every check that does not depend on the data.
ModelConfig model_config_from_json(const nlohmann::json& json);

}  // namespace cellvae::model
