// Principal component analysis of a dense cells x features matrix.
#pragma once

#include <cstdint>
#include <optional>

#include <torch/types.h>

#include "cellvae/analysis/methods.hpp"

namespace cellvae::analysis {

struct PcaOptions {
  /// Number of components kept; clamped to min(n_rows, n_cols) (reported in the result).
  std::int64_t n_components = 50;
  PcaMethod method = PcaMethod::randomized;
  /// randomized: extra columns in the random projection (k + oversamples in all).
  std::int64_t oversamples = 10;
  /// randomized: power iterations (each re-orthonormalised by QR).
  int power_iterations = 7;
  /// randomized: seed of the Gaussian test matrix (drawn with cellvae::Rng, so results do not
  /// depend on the torch version).
  std::uint64_t seed = 0;
};

/// A fitted PCA. Components are unit-norm rows; each is signed so that its entry of largest
/// absolute value is positive (a convention that depends on the data only, not on the cells'
/// order; scikit-learn may return some components with the opposite sign).
struct PcaResult {
  torch::Tensor mean;        ///< (d) column means of the fitted data, subtracted before projecting
  torch::Tensor components;  ///< (k x d) principal axes, by decreasing variance
  torch::Tensor scores;      ///< (n x k) the fitted rows projected: (x - mean) components^T
  /// (k) variance along each component, with the n - 1 denominator (sklearn explained_variance_)
  torch::Tensor explained_variance;
  /// (k) explained_variance / total variance of the data (sum of column variances)
  torch::Tensor explained_variance_ratio;
  std::int64_t n_components = 0;  ///< the number of components kept
};

/// PCA of the rows of `x` (n x d, floating point; n >= 2). Computed in x's dtype (use float64
/// for reference-grade results). Throws std::invalid_argument on a non-2-D or too small input.
PcaResult run_pca(const torch::Tensor& x, const PcaOptions& options = {});

/// Projects new rows (m x d) onto a fitted PCA: (x - mean) components^T.
torch::Tensor pca_transform(const PcaResult& pca, const torch::Tensor& x);

}  // namespace cellvae::analysis
