// k-means clustering: Lloyd's algorithm started from k-means++ centres, with restarts.
//
// Used to cluster cells in a latent space and to start the EM of a Gaussian mixture
// (gaussian_mixture.hpp), as scikit-learn's GaussianMixture(init_params="kmeans") does.
// Everything is computed in float64 on the input's device.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace cellvae::analysis {

struct KMeansOptions {
  /// Number of clusters k, 1 <= k <= number of rows.
  std::int64_t clusters = 8;
  /// Independent k-means++ starts; the run with the lowest inertia is kept. >= 1.
  /// (scikit-learn's classic default, 10; its newer "auto" uses 1 with k-means++.)
  int n_init = 10;
  /// Lloyd iterations per run, >= 1.
  int max_iterations = 300;
  /// Relative tolerance, >= 0: a run also stops when the summed squared movement of the centres
  /// in one iteration is <= tolerance x (mean over columns of the column variance), scikit-learn's
  /// scaling. A run always stops as soon as no label changes.
  double tolerance = 1e-4;
  /// Seeds the k-means++ draws (cellvae::Rng, so results do not depend on the torch version).
  /// Restart r continues the same random stream.
  std::uint64_t seed = 0;
};

struct KMeansResult {
  torch::Tensor centers;             ///< (k x d) float64 cluster means
  std::vector<std::int32_t> labels;  ///< (n) cluster of each row, 0 .. k-1: its nearest centre
  /// Sum over rows of the squared Euclidean distance to the row's centre.
  double inertia = 0;
  int iterations = 0;      ///< Lloyd iterations of the kept run
  bool converged = false;  ///< the kept run stopped before max_iterations (labels or tolerance)
};

/// k-means of the rows of `x` (n x d, floating point, finite; n >= clusters). Each of the
/// n_init runs starts from greedy k-means++ centres (kmeans_plusplus) and iterates Lloyd's
/// algorithm: assign every row to its nearest centre (ties to the lower index), move each
/// centre to the mean of its rows. A cluster that ends an iteration empty gets the row farthest
/// from its own centre as its new centre (distinct rows for several empty clusters). After the
/// last iteration the labels are recomputed from the final centres, so labels, centres and
/// inertia always agree. Throws InputError on bad input or options.
KMeansResult run_kmeans(const torch::Tensor& x, const KMeansOptions& options = {});

/// One Lloyd run from the given `centers` (k x d), exactly as each run of run_kmeans
/// (scikit-learn KMeans(init=centers, n_init=1, algorithm="lloyd")). options.clusters,
/// n_init and seed are ignored; k comes from `centers`.
KMeansResult run_kmeans_from_centers(const torch::Tensor& x, const torch::Tensor& centers,
                                     const KMeansOptions& options = {});

/// Greedy k-means++ seeding (Arthur & Vassilvitskii 2007, with the local trials that
/// scikit-learn uses): the first centre is a uniformly drawn row; each next centre is the best,
/// by resulting inertia, of 2 + floor(ln k) rows drawn with probability proportional to their
/// squared distance to the nearest centre so far. Returns (k x d) float64 rows of `x`.
/// `x` as for run_kmeans, 1 <= k <= n.
torch::Tensor kmeans_plusplus(const torch::Tensor& x, std::int64_t k, std::uint64_t seed);

}  // namespace cellvae::analysis
