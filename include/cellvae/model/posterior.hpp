// The latent posterior q(z|x) of the VAE: a diagonal Gaussian given by the encoder as a mean and a
// LOG-VARIANCE, with the reparameterised sampler and the analytic KL divergences the priors
// (prior.hpp) are built from.
//
// One parameterisation, used everywhere: `log_variance` is log sigma^2. Sampling uses
// sigma = exp(0.5 * log_variance) and every KL reads the same log_variance. VAExprs (keras) samples
// with exp(z_log_var) as if the encoder output were log sigma, while its KL term treats that same
// output as log sigma^2; the two halves of its loss disagree about the variance. cellvae does not
// repeat this: the sample and the KL describe the same distribution.
//
// Shapes: the last dimension is the latent dimension D; leading dimensions are cells (cells x D)
// or cells x components (cells x K x D, the per-component posteriors of the mixture prior).
// Per-cell results sum over the last dimension only. Float or double, any device.
#pragma once

#include <torch/torch.h>

namespace cellvae::model {

/// N(mean, diag exp(log_variance)), elementwise over the leading dimensions. `mean` and
/// `log_variance` have the same shape (or broadcast to one), last dimension D.
struct DiagonalGaussian {
  torch::Tensor mean;
  torch::Tensor log_variance;  ///< log sigma^2, not log sigma
};

/// The reparameterised draw z = mean + exp(0.5 * log_variance) * eps, eps ~ N(0, I) drawn with
/// `generator` only (equal seeds give equal draws; the generator must live on the tensors'
/// device). Differentiable w.r.t. mean and log_variance. Shape: the broadcast shape of the two.
torch::Tensor reparameterized_sample(const DiagonalGaussian& q, torch::Generator& generator);

/// Analytic KL(q || N(0, I)) summed over the last dimension:
///   0.5 * sum_d (mean_d^2 + exp(log_variance_d) - 1 - log_variance_d).
/// cells x D gives a tensor of length cells. Differentiable; no clamping of log_variance.
torch::Tensor kl_standard_normal(const DiagonalGaussian& q);

/// Analytic KL(q || p) between diagonal Gaussians, summed over the last dimension, with
/// broadcasting over the leading dimensions (cells x K x D against K x D gives cells x K):
///   0.5 * sum_d ((mq - mp)^2 exp(-lp) + exp(lq - lp) - 1 - (lq - lp)),
/// lq, lp the log-variances. With p = N(0, I) this is kl_standard_normal term by term (the same
/// operations in the same order, so equal to rounding-free precision). Differentiable w.r.t.
/// both arguments.
torch::Tensor kl_diagonal_gaussians(const DiagonalGaussian& q, const DiagonalGaussian& p);

/// Log-density of z under q, summed over the last dimension (broadcasting as above):
///   -0.5 * sum_d (log(2 pi) + log_variance_d + (z_d - mean_d)^2 exp(-log_variance_d)).
torch::Tensor diagonal_gaussian_log_density(const torch::Tensor& z, const DiagonalGaussian& q);

}  // namespace cellvae::model
