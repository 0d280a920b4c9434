// Barnes–Hut t-SNE: a 2-D embedding of the rows of a matrix (cells x principal components)
// that keeps each cell's near neighbours near.
//
// Implemented from van der Maaten & Hinton 2008 ("Visualizing data using t-SNE") and van der
// Maaten 2014 ("Accelerating t-SNE using tree-based algorithms"), with the defaults and the
// optimisation schedule that scikit-learn's TSNE(method="barnes_hut") documents (init "pca",
// learning_rate "auto", early exaggeration 12 for 250 iterations, momentum 0.5 then 0.8). Its
// embeddings are checked against scikit-learn's by trustworthiness and neighbourhood
// preservation (tests/analysis/test_tsne.cpp), not coordinate by coordinate: t-SNE has many
// equally good optima.
//
// The steps:
//  1. Affinities (tsne_affinities): for each row, its K = min(n - 1, floor(3 perplexity + 1))
//     nearest rows (exact Euclidean search), and conditional probabilities
//     p_j|i = exp(-beta_i d_ij^2) / sum_k exp(-beta_i d_ik^2) over them, beta_i found by binary
//     search so that the entropy of p_.|i is ln(perplexity). Symmetrised,
//     p_ij = (p_j|i + p_i|j) / 2n, so that the p_ij sum to 1.
//  2. Gradient descent on KL(P || Q), q_ij = (1 + |y_i - y_j|^2)^-1 / Z, with the gradient
//     4 [ sum_j p_ij (1 + |y_i - y_j|^2)^-1 (y_i - y_j) - sum_j q_ij^2 Z (y_i - y_j) ].
//     The attractive first sum runs over the K-neighbour graph; the repulsive second sum and Z
//     are approximated on a quadtree (Barnes–Hut): a cell of side w whose centre of mass lies
//     at distance d from y_i stands for all its points when w / d < theta.
//  3. Updates with per-coordinate gains (+0.2 while the gradient keeps its sign, i.e. opposes
//     the last update; x0.8 when it flips; never below min_gain) and momentum; P is multiplied by
//     early_exaggeration for the first exaggeration_iter iterations (momentum 0.5), then the
//     gains and update are reset and the remaining iterations run with momentum 0.8.
//
// Cost: an O(n^2 d) exact neighbour search and O(n K) for the affinities, then O(n log n) per
// iteration; 13,000 x 50 takes about 16 s on two cores (28 s of CPU time), 4 s of it before
// the first iteration.
//
// Threads: the gradient of each point is computed independently and the sums are added in a
// fixed order, so `threads` never changes the result. The neighbour search and the PCA start
// run on LibTorch's own thread pool (set by the caller); equal seeds give identical embeddings
// under the same LibTorch thread setting.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include <torch/types.h>

namespace cellvae::analysis {

/// Where t-SNE starts.
enum class TsneInit {
  /// The first two principal components (randomized PCA seeded with `seed`), scaled so that
  /// the first has standard deviation 1e-4 (scikit-learn's default since 1.2): a start that
  /// keeps the global arrangement of the data, and a deterministic one.
  pca,
  /// Independent N(0, 1e-4^2) coordinates drawn from `seed`.
  random,
};

/// "pca", "random".
std::string_view to_string(TsneInit init);
/// Inverse of to_string; throws InputError listing the valid names.
TsneInit parse_tsne_init(std::string_view name);

struct TsneOptions {
  /// Effective number of neighbours of each point, > 0 and < the number of rows. Typical
  /// 5..50; larger values keep more global structure and cost proportionally more.
  double perplexity = 30;
  /// Barnes–Hut accuracy, in [0, 1]: 0 computes the repulsion exactly (O(n^2) per iteration,
  /// for small data and tests); 0.5 is scikit-learn's default; larger is faster and coarser.
  double theta = 0.5;
  /// Total gradient-descent iterations, including the early-exaggeration ones. >= 1.
  std::int64_t n_iter = 1000;
  /// Factor on P during the first exaggeration_iter iterations, >= 1: it lets clusters form
  /// and separate before the fine arrangement.
  double early_exaggeration = 12;
  std::int64_t exaggeration_iter = 250;  ///< >= 0; capped by n_iter
  /// Gradient-descent step, > 0. Empty: max(n / early_exaggeration / 4, 50) (scikit-learn's
  /// "auto", from Belkina et al. 2019 and Linderman et al. 2019); reported in the result.
  std::optional<double> learning_rate;
  double min_gain = 0.01;  ///< lower bound of the per-coordinate gains, > 0
  /// A phase stops early when, at a check (every 50 iterations), the gradient norm is below
  /// this (>= 0) ...
  double min_grad_norm = 1e-7;
  /// ... or when the KL divergence has not improved for more than this many iterations (>= 1;
  /// scikit-learn's n_iter_without_progress; the exaggeration phase only checks the gradient).
  std::int64_t n_iter_without_progress = 300;
  TsneInit init = TsneInit::pca;
  /// Seeds the PCA's random projection or the random start; nothing else is random, so equal
  /// seeds give identical embeddings.
  std::uint64_t seed = 0;
  /// std::threads for the gradient (0 = all hardware threads). The result does not depend on it.
  int threads = 0;
};

/// The symmetric joint probabilities p_ij of step 1, as a CSR matrix over the rows (n x n).
/// Column indices are sorted within each row; entries sum to 1.
struct TsneAffinities {
  std::int64_t n = 0;
  std::vector<std::int64_t> indptr;  ///< n + 1 offsets
  std::vector<std::int64_t> indices;
  std::vector<double> values;
  std::int64_t n_neighbors = 0;  ///< K, the neighbours per row before symmetrising
  /// Rows whose binary search stopped after 100 steps without reaching the perplexity to 1e-5
  /// in entropy (duplicated rows, or a perplexity near the number of rows).
  std::int64_t not_converged = 0;
};

struct TsneResult {
  torch::Tensor embedding;  ///< (n x 2) float64
  /// KL(P || Q) at the final embedding, Z approximated on a quadtree as in the gradient.
  double kl_divergence = 0;
  std::int64_t n_iter = 0;       ///< iterations run (fewer than options.n_iter after an early stop)
  double learning_rate = 0;      ///< the step used (options.learning_rate or the automatic one)
  std::int64_t n_neighbors = 0;  ///< K of the affinities
  std::int64_t perplexity_not_converged = 0;  ///< see TsneAffinities::not_converged
};

/// Step 1 alone: the affinities of the rows of `x` (n x d, floating point, finite, n >= 2) at
/// `perplexity` (0 < perplexity < n). Throws InputError on bad input or perplexity.
TsneAffinities tsne_affinities(const torch::Tensor& x, double perplexity);

/// KL(P || Q) and its gradient (n x 2, float64) at `embedding` (n x 2) for affinities `p`,
/// with the repulsion from a quadtree at `theta` (0 = exact). Exposed for tests and
/// diagnostics; t-SNE itself uses the same code.
struct TsneGradient {
  torch::Tensor gradient;
  double kl_divergence = 0;
  double z = 0;  ///< sum over ordered pairs i != j of (1 + |y_i - y_j|^2)^-1 (approximated)
};
TsneGradient tsne_gradient(const TsneAffinities& p, const torch::Tensor& embedding,
                           double theta = 0.5, int threads = 1);

/// A t-SNE run that can be advanced in steps (for progress reports): initialise, call run()
/// with increasing iteration limits, then take result(). Moving is cheap; copying is not
/// offered.
class TsneState {
 public:
  ~TsneState();
  TsneState(TsneState&&) noexcept;
  TsneState& operator=(TsneState&&) noexcept;

  /// Runs iterations until `iteration_limit` iterations have run in total (capped at
  /// options.n_iter) or the run stops early. Returns the number run in total.
  std::int64_t run(std::int64_t iteration_limit);
  /// Runs to the end.
  std::int64_t run();
  std::int64_t iteration() const;  ///< iterations run so far
  bool done() const;               ///< all iterations ran or the second phase stopped early
  /// The embedding so far, with the KL divergence at it (computed on each call).
  TsneResult result() const;

 private:
  struct Impl;
  explicit TsneState(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend TsneState tsne_initialize(const torch::Tensor& x, const TsneOptions& options);
};

/// Validates the options, computes the affinities and the start. `x` as for tsne_affinities,
/// n >= 3. Throws InputError naming the option and value on bad options.
TsneState tsne_initialize(const torch::Tensor& x, const TsneOptions& options = {});

/// The whole run: tsne_initialize(x, options).run(), result().
TsneResult tsne(const torch::Tensor& x, const TsneOptions& options = {});

}  // namespace cellvae::analysis
