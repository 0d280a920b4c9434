// The closed choices of the encoder/decoder building block (mlp.hpp), with their one table to
// and from lower-case names. Torch-free, so that the command line and JSON code can use them
// without LibTorch headers.
#pragma once

#include <string_view>

namespace cellvae::model {

/// Slope of leaky_relu for negative inputs. cellvae follows keras (VAExprs, whose users know
/// these names) and uses keras's default 0.3, not torch's 0.01: leaky_relu(x) = x for x >= 0,
/// 0.3 x otherwise.
inline constexpr double kLeakyReluSlope = 0.3;

/// Nonlinearity after each hidden layer. Names are the keras ones (VAExprs's `activation`).
/// Formulas (x is the pre-activation, after normalisation):
enum class Activation {
  relu,        ///< max(x, 0); scVI's and VAExprs's default.
  elu,         ///< x for x > 0, exp(x) - 1 otherwise (alpha = 1, keras and torch default).
  leaky_relu,  ///< x for x >= 0, kLeakyReluSlope * x otherwise.
  tanh,        ///< tanh(x).
  sigmoid,     ///< 1 / (1 + exp(-x)).
  softplus,    ///< log(1 + exp(x)) (beta = 1; torch returns x itself where x > 20).
  linear,      ///< x (no nonlinearity).
};

/// "relu", "elu", "leaky_relu", "tanh", "sigmoid", "softplus", "linear".
std::string_view to_string(Activation activation);
/// Inverse of to_string; throws InputError listing the valid names.
Activation parse_activation(std::string_view name);

/// Normalisation between each hidden layer's Linear and its activation.
enum class Normalization {
  none,  ///< no normalisation.
  /// Batch normalisation over the cells of a minibatch, with learned scale and shift; running
  /// statistics (momentum 0.01, eps 1e-3, as scVI) are used in eval mode. Training needs
  /// minibatches of at least 2 cells.
  batch,
  /// Layer normalisation of each cell over the layer's units (eps 1e-5), without learned scale
  /// and shift (elementwise_affine = false, as scVI); same in train and eval mode.
  layer,
};

/// "none", "batch", "layer".
std::string_view to_string(Normalization normalization);
/// Inverse of to_string; throws InputError listing the valid names.
Normalization parse_normalization(std::string_view name);

/// Where the one-hot categorical covariates (labels of a CVAE, batches of scVI) enter the MLP.
/// They are concatenated after the layer's input columns: Linear([input, one-hot]).
enum class CovariateInjection {
  /// Into the first Linear only (scVI's encoder; a CVAE in VAExprs style).
  first_layer,
  /// Into every Linear (scVI's decoder with inject_covariates = true).
  every_layer,
};

/// "first", "all".
std::string_view to_string(CovariateInjection injection);
/// Inverse of to_string; throws InputError listing the valid names.
CovariateInjection parse_covariate_injection(std::string_view name);

}  // namespace cellvae::model
