// L2-regularised logistic regression (binary and multinomial), fitted by Newton's method.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace cellvae::analysis {

struct LogisticRegressionOptions {
  /// Inverse regularisation strength, as scikit-learn's C: the fit minimises
  /// C * sum_i log-loss_i + |W|^2 / 2 (the intercept is not penalised). > 0.
  double C = 1.0;
  bool fit_intercept = true;
  int max_iterations = 100;  ///< Newton steps at most
  /// Converged when the largest gradient entry is below tolerance * (1 + n_rows * C).
  double tolerance = 1e-10;
};

/// A fitted model. With two classes there is one weight vector (the logit of class 1, as in
/// scikit-learn); with more, one per class and a softmax (multinomial).
struct LogisticRegressionModel {
  std::int32_t n_classes = 0;
  /// Class codes the model was fitted on (those present in the training labels); classes
  /// absent from training get probability 0.
  std::vector<std::int32_t> classes;
  torch::Tensor weights;    ///< (c x d) float64, c = 1 for two classes else classes.size()
  torch::Tensor intercept;  ///< (c) float64
  int iterations = 0;       ///< Newton steps taken
  bool converged = false;
};

/// Fits the model to rows of `x` (n x d) with class codes `y` in 0 .. n_classes-1. Works in
/// float64. A single class present gives a model that always predicts it.
LogisticRegressionModel fit_logistic_regression(const torch::Tensor& x,
                                                const std::vector<std::int32_t>& y,
                                                std::int32_t n_classes,
                                                const LogisticRegressionOptions& options = {});

/// Class probabilities (m x n_classes, float64) of the rows of `x`.
torch::Tensor predict_proba(const LogisticRegressionModel& model, const torch::Tensor& x);

}  // namespace cellvae::analysis
