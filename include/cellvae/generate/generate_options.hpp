// What `cellvae generate` is asked to draw: how many cells, from which latent sampler, of which
// labels and batches, at which library sizes, as counts or expected values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cellvae::generate {

/// Where the latent points of new cells come from.
enum class SamplerKind {
  /// VAExprs' gen_exprs: a Gaussian mixture fitted (K and covariance type by BIC) to the
  /// posterior means of the training cells, one mixture per label when the training cells have
  /// labels; new cells are decoded from its draws.
  gmm,
  /// The model's prior: N(0, I), or p(y) p(z|y) of a Gaussian-mixture prior; with labels,
  /// y is drawn from p(y | label), the mean prior responsibility of the label's training cells.
  prior,
  /// scVI's posterior predictive: one draw of q(z|x) per given real cell (not new cells: each
  /// is a noisy copy of a real one).
  posterior,
};

std::string_view to_string(SamplerKind kind);

/// What the gmm sampler fits its mixtures to.
enum class MixtureInput {
  /// One draw of q(z|x) per training cell: the aggregate posterior the decoder was trained on
  /// (default; generated cells are as varied as real ones).
  samples,
  /// The posterior means, as VAExprs does (tighter than the aggregate posterior: generated
  /// cells are more typical than real ones).
  means,
};

std::string_view to_string(MixtureInput input);

/// Where the gmm sampler takes each new cell's library size from (models with a library).
enum class LibrarySource {
  /// Given the cell's z: per label, log total count regressed on z over the training cells
  /// (least squares on the same posterior draws the mixture is fitted to), then the fitted
  /// value plus a normal residual of the regression's residual variance. A new cell's size then
  /// follows its state as in real data (within a label, z predicts about 40% of the variance of
  /// log library size on kang_pbmc). Default.
  regression,
  /// Independent of z: the total count of a training cell of the same label and batch
  /// (observed library), or a draw of the learned library prior (latent library).
  cells,
};

std::string_view to_string(LibrarySource source);
/// "regression", "cells"; InputError listing them otherwise.
LibrarySource parse_library_source(std::string_view name);
/// "samples", "means"; InputError listing them otherwise.
MixtureInput parse_mixture_input(std::string_view name);
/// "gmm", "prior", "posterior"; InputError listing them otherwise.
SamplerKind parse_sampler_kind(std::string_view name);

struct GenerateOptions {
  /// Cells to generate (>= 1). With the posterior sampler: draws per given cell are cycled,
  /// cell i from real cell i mod n.
  std::int64_t n_cells = 1000;
  /// Empty: gmm for a standard-normal prior, prior for a Gaussian-mixture prior (the model's
  /// own clusters).
  std::optional<SamplerKind> sampler;
  /// Exact number of cells per label name (they must sum to n_cells); empty: labels drawn with
  /// the training cells' frequencies (VAExprs). Needs a model trained with a label key.
  std::vector<std::pair<std::string, std::int64_t>> label_counts;
  /// Every cell from this batch; empty: drawn with the training frequencies among the training
  /// cells of the same label.
  std::optional<std::string> batch;
  /// Prior sampler of a mixture-prior model: draw every cell from this component (0-based);
  /// empty: components drawn from p(y).
  std::optional<std::int64_t> component;
  /// Every cell's library size (total count); empty: drawn given z (gmm sampler,
  /// library_source regression), else from the training cells of the same label (and
  /// batch when possible) for an observed library, from the learned library prior for a latent
  /// one. > 0.
  std::optional<double> library_size;
  /// gmm sampler: library sizes drawn given z or independently of it (LibrarySource).
  LibrarySource library_source = LibrarySource::regression;
  /// Count likelihoods: expected expression (decoder mean) instead of integer draws.
  /// Bernoulli/Gaussian (VAExprs) models: with `counts`, expected counts instead of Poisson
  /// draws of them.
  bool mean = false;
  /// Bernoulli/Gaussian (VAExprs) models only: counts through the training size factors
  /// ((2^y - 1) × library / reference library, then Poisson draws unless `mean`) instead of
  /// the de-scaled log-normalized values VAExprs returns.
  bool counts = false;
  /// gmm sampler: fit the mixtures to posterior samples or means.
  MixtureInput mixture_input = MixtureInput::samples;
  /// Gaussian-mixture selection: largest number of components tried (VAExprs/mclust: 9).
  std::int64_t max_components = 9;
  /// Training cells per label the mixture is fitted to (a seeded subsample above this): keeps
  /// BIC selection fast on large data; the mixture of a few thousand points is already precise.
  std::int64_t max_mixture_cells = 5000;
  /// Seeds every random choice: the same seed gives the same cells.
  std::uint64_t seed = 0;
};

/// Parses "B cells=100,NK cells=50" (names may contain spaces; counts >= 0). Throws
/// InputError naming `flag` for a malformed entry or a repeated name.
std::vector<std::pair<std::string, std::int64_t>> parse_label_counts(std::string_view text,
                                                                     std::string_view flag);

}  // namespace cellvae::generate
