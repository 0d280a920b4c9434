// The closed choices of the observation model (likelihood.hpp), with their one table to and from
// lower-case names. Torch-free, so that the command line and JSON code can use them without
// LibTorch headers.
#pragma once

#include <string_view>

namespace cellvae::model {

/// The distribution of one observed value (cell i, gene g) given the decoder's outputs.
/// Parameterisations are documented at LikelihoodParams (likelihood.hpp).
enum class LikelihoodKind {
  /// Binary cross-entropy on data scaled to [0, 1] (VAExprs: log-normalized, min-max scaled).
  bernoulli,
  /// Normal with mean and per-entry or per-gene log standard deviation.
  gaussian,
  /// Poisson counts.
  poisson,
  /// Negative binomial counts (mean and inverse dispersion).
  nb,
  /// Zero-inflated Poisson counts.
  zip,
  /// Zero-inflated negative binomial counts (scVI).
  zinb,
};

/// "bernoulli", "gaussian", "poisson", "nb", "zip", "zinb".
std::string_view to_string(LikelihoodKind kind);
/// Inverse of to_string; throws InputError listing the valid names.
LikelihoodKind parse_likelihood_kind(std::string_view name);

/// How many inverse-dispersion parameters (theta, NB/ZINB) the model learns; the decoder turns
/// this into a LikelihoodParams::inverse_dispersion tensor, the likelihood only sees the tensor.
enum class DispersionKind {
  gene,        ///< one theta per gene (a 1 x genes tensor), scVI's default
  gene_batch,  ///< one theta per gene and batch (rows gathered per cell: cells x genes)
  gene_label,  ///< one theta per gene and label (rows gathered per cell: cells x genes)
  cell,        ///< a decoder output per cell and gene (cells x genes)
};

/// "gene", "gene-batch", "gene-label", "cell".
std::string_view to_string(DispersionKind kind);
/// Inverse of to_string; throws InputError listing the valid names.
DispersionKind parse_dispersion_kind(std::string_view name);

/// True for the count models (poisson, nb, zip, zinb): data must be non-negative counts.
bool is_count_likelihood(LikelihoodKind kind);
/// True for nb and zinb, which need LikelihoodParams::inverse_dispersion.
bool has_dispersion(LikelihoodKind kind);
/// True for zip and zinb, which need LikelihoodParams::zero_logits.
bool is_zero_inflated(LikelihoodKind kind);

}  // namespace cellvae::model
