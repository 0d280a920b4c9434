// Exact k-nearest-neighbour search (Euclidean) and the k-nearest-neighbour classifier.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace cellvae::analysis {

struct NeighborOptions {
  std::int64_t k = 15;  ///< neighbours per query; clamped to the number of reference rows
  /// Treat `query` as `reference` itself and skip each row's own index (a point is not its own
  /// neighbour). Requires query and reference to be the same rows.
  bool exclude_self = false;
  /// Queries processed per block; bounds memory at block_size x n_reference distances.
  std::int64_t block_size = 2048;
};

struct NeighborResult {
  torch::Tensor indices;    ///< (m x k) int64 row indices into reference, nearest first
  torch::Tensor distances;  ///< (m x k) Euclidean distances, non-decreasing along each row
  std::int64_t k = 0;       ///< neighbours found per query (after clamping)
};

/// The k nearest rows of `reference` (n x d) to each row of `query` (m x d), by brute force
/// (all distances, blockwise; fine to ~10^5 x 10^4 rows). Equal distances come in an
/// unspecified order.
NeighborResult nearest_neighbors(const torch::Tensor& reference, const torch::Tensor& query,
                                 const NeighborOptions& options = {});

struct KnnClassifierOptions {
  std::int64_t k = 15;  ///< neighbours that vote; clamped to the number of training rows
};

/// Class probabilities of `query` rows (m x d) under a k-nearest-neighbour vote among the
/// training rows `x` (n x d) with class codes `y` (0 .. n_classes-1), uniform weights: row i
/// of the (m x n_classes, float64) result holds the fraction of its k neighbours in each class
/// (sklearn KNeighborsClassifier(k).predict_proba).
torch::Tensor knn_predict_proba(const torch::Tensor& x, const std::vector<std::int32_t>& y,
                                std::int32_t n_classes, const torch::Tensor& query,
                                const KnnClassifierOptions& options = {});

}  // namespace cellvae::analysis
