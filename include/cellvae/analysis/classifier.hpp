// One entry point for cellvae's classifiers, and stratified cross-validation over it.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "cellvae/analysis/logistic_regression.hpp"
#include "cellvae/analysis/methods.hpp"
#include "cellvae/analysis/neighbors.hpp"
#include "cellvae/analysis/random_forest.hpp"

namespace cellvae::analysis {

/// Which classifier and its settings (only the one matching `kind` is used).
struct ClassifierOptions {
  Classifier kind = Classifier::knn;
  KnnClassifierOptions knn;
  RandomForestOptions forest;
  LogisticRegressionOptions logistic;
};

/// Fits the classifier on (x, y) and returns the class probabilities (m x n_classes, float64)
/// of the rows of `query`.
torch::Tensor fit_predict_proba(const torch::Tensor& x, const std::vector<std::int32_t>& y,
                                std::int32_t n_classes, const torch::Tensor& query,
                                const ClassifierOptions& options);

struct CrossValidationOptions {
  int n_folds = 5;
  std::uint64_t seed = 0;  ///< shuffles each class before dealing it into folds
};

/// Stratified k-fold assignment: the fold (0 .. n_folds-1) of each row. Each class's rows are
/// shuffled and dealt round-robin into the folds, continuing where the previous class stopped,
/// so every fold gets each class's share to within one row and fold sizes differ by at most
/// one. Requires n_folds >= 2.
std::vector<int> stratified_folds(const std::vector<std::int32_t>& y, std::int32_t n_classes,
                                  const CrossValidationOptions& options = {});

/// Out-of-fold class probabilities (n x n_classes, float64): each row is predicted by the
/// classifier fitted on the other folds (sklearn cross_val_predict(method="predict_proba")).
torch::Tensor cross_validated_proba(const torch::Tensor& x, const std::vector<std::int32_t>& y,
                                    std::int32_t n_classes, const ClassifierOptions& classifier,
                                    const CrossValidationOptions& options = {});

}  // namespace cellvae::analysis
