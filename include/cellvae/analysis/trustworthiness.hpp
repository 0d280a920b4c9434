// How well a low-dimensional embedding (t-SNE, UMAP, a VAE's latent space) keeps the
// neighbourhoods of the data it was computed from.
//
// Both measures compare k-nearest-neighbour sets (exact Euclidean search) in the input and in
// the embedding. They are O(n^2 d) in time and need O(block_size x n) memory: meant for
// evaluation on up to some 10^4 rows.
#pragma once

#include <cstdint>

#include <torch/types.h>

namespace cellvae::analysis {

struct EmbeddingQualityOptions {
  /// Neighbours compared per row. trustworthiness: 1 <= k < n / 2 (its normalisation needs
  /// it); neighborhood_preservation: 1 <= k <= n - 1.
  std::int64_t k = 10;
  /// Rows whose input distances are held at once (memory block_size x n doubles), >= 1.
  std::int64_t block_size = 512;
};

/// Trustworthiness (Venna & Kaski 2001), as scikit-learn's sklearn.manifold.trustworthiness
/// with the Euclidean metric:
///   T(k) = 1 - 2 / (n k (2n - 3k - 1)) sum_i sum_{j in U_i} (r(i, j) - k),
/// where U_i are the k nearest neighbours of row i in the embedding that are not among its k
/// nearest in the input, and r(i, j) the rank of j among the input neighbours of i (1 =
/// nearest). 1 when no embedding neighbour is an intruder; it penalises points that are close in
/// the embedding but far in the data, by how far. Rows of `x` (n x d) and `embedding` (n x e)
/// correspond; both floating point and finite. Input distances tied with another distance take
/// the lowest rank of their tie (scikit-learn's order among ties is unspecified).
/// Throws InputError on bad input or k.
double trustworthiness(const torch::Tensor& x, const torch::Tensor& embedding,
                       const EmbeddingQualityOptions& options = {});

/// Neighbourhood preservation: the mean over rows of |N_k(x, i) ∩ N_k(embedding, i)| / k, the
/// fraction of each row's k nearest neighbours in the input (self excluded) that are also among
/// its k nearest in the embedding. In [0, 1]; about k / n for a random embedding. Equal
/// distances at the k-th place are broken in an unspecified order.
double neighborhood_preservation(const torch::Tensor& x, const torch::Tensor& embedding,
                                 const EmbeddingQualityOptions& options = {});

}  // namespace cellvae::analysis
