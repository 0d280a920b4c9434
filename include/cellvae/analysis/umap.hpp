// UMAP: a low-dimensional embedding of the rows of a matrix (cells x principal components)
// from a fuzzy k-nearest-neighbour graph.
//
// Implemented from McInnes, Healy & Melville 2018 ("UMAP: Uniform Manifold Approximation and
// Projection for Dimension Reduction", arXiv:1802.03426, sections 3-4 and appendix C), with
// the defaults and conventions documented by umap-learn 0.5 (n_neighbors counts the point
// itself, epochs 500 / 200, spectral start rescaled to [0, 10]). Its embeddings are checked
// against umap-learn's by trustworthiness and neighbourhood preservation
// (tests/analysis/test_umap.cpp), its graph and curve parameters value by value.
//
// The steps:
//  1. The graph (umap_graph): each row's n_neighbors - 1 nearest other rows (exact Euclidean
//     search; the row itself is the first of its n_neighbors). rho_i is the distance to the
//     nearest other row at a positive distance; sigma_i is found by binary search so that
//     sum_j exp(-max(0, d_ij - rho_i) / sigma_i) = log2(n_neighbors), and is kept above 1e-3
//     times the row's mean neighbour distance. Directed weights w_ij = exp(-max(0, d_ij -
//     rho_i) / sigma_i) are made symmetric by the fuzzy union A + A^T - A o A^T.
//  2. The curve: the low-dimensional similarity is 1 / (1 + a d^(2b)), with a and b fitted by
//     least squares to 1 for d < min_dist and exp(-(d - min_dist) / spread) beyond, on 300
//     points of [0, 3 spread] (umap_curve; a = 1.577, b = 0.895 for the defaults).
//  3. The start (UmapInit), scaled so that its largest coordinate is 10, plus N(0, 1e-4^2)
//     noise, then each coordinate rescaled to [0, 10].
//  4. Stochastic gradient descent on the fuzzy cross-entropy: edges with weight below
//     max / n_epochs are dropped; edge (i, j) is sampled every max_w / w_ij epochs, pulling i
//     and j together with gradient -2ab d^(2(b-1)) / (1 + a d^(2b)) (y_i - y_j), and each
//     sample is followed by negative_sample_rate samples of a uniformly drawn row k pushing i
//     away with 2 gamma b / ((0.001 + d^2)(1 + a d^(2b))) (y_i - y_k); every coordinate step is
//     clipped to [-4, 4] and the learning rate falls linearly to 0 over the epochs.
//
// Cost: an O(n^2 d) exact neighbour search, a spectral start of O(n k) per Lanczos step, then
// O(n_epochs n n_neighbors (1 + negative_sample_rate)) for the descent; 13,000 x 50 takes
// about 7 s on two cores (3 s to the start, then 200 epochs on one core).
//
// Threads: the descent is sequential (each update depends on the previous ones), so equal
// seeds give identical embeddings; unlike umap-learn's parallel mode nothing races. The
// neighbour search, PCA and eigensolvers run on LibTorch's thread pool (set by the caller):
// identical results need the same LibTorch thread setting.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include <torch/types.h>

namespace cellvae::analysis {

/// Where the descent starts.
enum class UmapInit {
  /// Eigenvectors of the graph's normalised Laplacian I - D^-1/2 W D^-1/2 for the smallest
  /// eigenvalues after the trivial one (Laplacian eigenmaps, Belkin & Niyogi 2003), per
  /// connected component. Components with up to 1,000 rows use a dense eigensolver, larger ones
  /// thick-restarted Lanczos (converged to a residual of 1e-4, or the best vectors after 2,000
  /// products; only a start, so an unconverged one is still a smooth layout). With several
  /// components each is laid out on its own and placed at the PCA coordinates of the
  /// components' centroids in the data, within a ball of 0.4 times the distance to the nearest
  /// other component (so components do not overlap; umap-learn's layout differs in detail).
  /// Components with at most n_components + 1 rows are placed at
  /// random in that space.
  spectral,
  /// The first n_components principal components of the data (randomized PCA seeded by `seed`).
  pca,
  /// Uniform in [-10, 10], drawn from `seed`.
  random,
};

/// "spectral", "pca", "random".
std::string_view to_string(UmapInit init);
/// Inverse of to_string; throws InputError listing the valid names.
UmapInit parse_umap_init(std::string_view name);

struct UmapOptions {
  /// Size of each row's neighbourhood, the row itself included (umap-learn's convention), in
  /// [2, number of rows]. Larger values keep more global structure. 15 is umap-learn's default.
  std::int64_t n_neighbors = 15;
  std::int64_t n_components = 2;  ///< dimension of the embedding, >= 1
  /// Smallest distance between embedded points, in [0, spread]: smaller packs clusters tighter.
  double min_dist = 0.1;
  /// Scale of the embedded neighbourhoods, > 0 (with min_dist, fixes a and b).
  double spread = 1.0;
  /// The curve parameters; fitted from min_dist and spread (umap_curve) when empty. > 0.
  std::optional<double> a, b;
  /// Epochs of descent, >= 1; empty: 500 for up to 10,000 rows, 200 above (umap-learn's rule).
  std::optional<std::int64_t> n_epochs;
  double learning_rate = 1;         ///< initial step, > 0; falls linearly to 0
  double negative_sample_rate = 5;  ///< repulsive samples per attractive one, >= 0
  double repulsion_strength = 1;    ///< gamma, the weight of the repulsive samples, >= 0
  UmapInit init = UmapInit::spectral;
  /// Seeds the start (Lanczos vector, noise, random or PCA start) and the negative samples.
  std::uint64_t seed = 0;
};

/// The symmetric fuzzy graph of step 1, as a CSR matrix over the rows (n x n), column indices
/// sorted within each row, no explicit zeros.
struct UmapGraph {
  std::int64_t n = 0;
  std::vector<std::int64_t> indptr;  ///< n + 1 offsets
  std::vector<std::int64_t> indices;
  std::vector<double> weights;  ///< in (0, 1]
  std::vector<double> rho;      ///< per row: distance to its nearest other row (> 0)
  std::vector<double> sigma;    ///< per row: the bandwidth found by binary search
  std::int64_t n_neighbors = 0;
};

/// Step 1 alone, for the rows of `x` (n x d, floating point, finite) and n_neighbors in
/// [2, n]. Throws InputError on bad input or n_neighbors.
UmapGraph umap_graph(const torch::Tensor& x, std::int64_t n_neighbors = 15);

/// The parameters of 1 / (1 + a d^(2b)).
struct UmapCurve {
  double a = 0, b = 0;
};
/// Step 2: a and b fitted by Levenberg–Marquardt least squares, from a = b = 1 (as umap-learn's
/// find_ab_params with scipy's curve_fit). spread > 0, 0 <= min_dist <= spread, else InputError.
UmapCurve umap_curve(double spread, double min_dist);

struct UmapResult {
  torch::Tensor embedding;      ///< (n x n_components) float64
  double a = 0, b = 0;          ///< the curve parameters used
  std::int64_t n_epochs = 0;    ///< the epochs to run (options.n_epochs or the default rule)
  std::int64_t epochs_run = 0;  ///< the epochs run so far (n_epochs after a full run)
  std::int64_t n_neighbors = 0;
  std::int64_t n_edges = 0;           ///< directed graph entries sampled (after pruning)
  std::int64_t graph_components = 0;  ///< connected components of the pruned graph
  /// Spectral start: the largest Lanczos residual |L v - lambda v| among the vectors used
  /// (0 for a dense solve or another start); above 1e-4 the start is an approximation.
  double spectral_residual = 0;
};

/// A UMAP run that can be advanced in epochs (for progress reports): initialise, call run()
/// with increasing epoch limits, then take result(). Moving is cheap; copying is not offered.
class UmapState {
 public:
  ~UmapState();
  UmapState(UmapState&&) noexcept;
  UmapState& operator=(UmapState&&) noexcept;

  /// Runs epochs until `epoch_limit` have run in total (capped at n_epochs). Returns the
  /// number run in total.
  std::int64_t run(std::int64_t epoch_limit);
  std::int64_t run();  ///< runs to the end
  std::int64_t epoch() const;
  bool done() const;
  UmapResult result() const;  ///< the embedding so far

 private:
  struct Impl;
  explicit UmapState(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend UmapState umap_initialize(const torch::Tensor& x, const UmapOptions& options);
};

/// Validates the options, builds the graph, fits the curve and computes the start. `x` (n x d,
/// floating point, finite) with n > n_components + 1. Throws InputError naming the option and
/// value on bad options.
UmapState umap_initialize(const torch::Tensor& x, const UmapOptions& options = {});

/// The whole run: umap_initialize(x, options).run(), result().
UmapResult umap(const torch::Tensor& x, const UmapOptions& options = {});

}  // namespace cellvae::analysis
