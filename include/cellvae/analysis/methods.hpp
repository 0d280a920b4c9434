// The closed choices of the analysis algorithms, with their one table to and from names.
// Torch-free, so that the command line and JSON code can use them without LibTorch headers.
#pragma once

#include <string_view>

namespace cellvae::analysis {

/// How PCA finds the leading singular vectors (pca.hpp).
enum class PcaMethod {
  /// Randomized range finder with power iterations (Halko, Martinsson & Tropp 2011, alg. 4.4):
  /// cost O(n d k) per iteration; the leading components agree with the exact ones to many
  /// digits when the spectrum decays, as it does for expression data.
  randomized,
  /// Thin SVD of the whole centred matrix (LAPACK through torch::linalg_svd): O(n d min(n, d)).
  exact,
};

/// "randomized", "exact".
std::string_view to_string(PcaMethod method);
/// Inverse of to_string; throws InputError listing the valid names.
PcaMethod parse_pca_method(std::string_view name);

/// A classifier (classifier.hpp).
enum class Classifier {
  knn,            ///< k-nearest-neighbour vote (neighbors.hpp)
  random_forest,  ///< random forest (random_forest.hpp)
  logistic,       ///< L2 logistic regression (logistic_regression.hpp)
};

/// "knn", "random-forest", "logistic".
std::string_view to_string(Classifier classifier);
/// Inverse of to_string; throws InputError listing the valid names.
Classifier parse_classifier(std::string_view name);

}  // namespace cellvae::analysis
