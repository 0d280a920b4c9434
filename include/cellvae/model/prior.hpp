// Priors on the latent z behind one interface chosen at run time: the KL term of the loss per
// cell, cluster assignments of a z, and draws of new z from the prior (generating cells).
//
// - standard_normal: p(z) = N(0, I) (VAE, CVAE, scVI).
// - gaussian_mixture: p(y) p(z|y) with y one of K components, p(z|y=k) = N(m_k, diag exp(s_k))
//   learned, p(y) uniform or learned (GMVAE after scVAE and Dilokthanakul et al. 2016). The
//   encoder gives q(y|x) as logits and one diagonal Gaussian q(z|x, y=k) per component.
//
// Parameterisation of every Gaussian: mean and LOG-VARIANCE (see posterior.hpp).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "cellvae/model/posterior.hpp"

namespace cellvae::model {

/// The closed choice of prior on z.
enum class PriorKind {
  standard_normal,   ///< N(0, I)
  gaussian_mixture,  ///< learned mixture of K diagonal Gaussians (GMVAE)
};

/// "normal", "gmm".
std::string_view to_string(PriorKind kind);
/// Inverse of to_string; throws InputError listing the valid names.
PriorKind parse_prior_kind(std::string_view name);

/// Options of make_prior.
struct PriorOptions {
  PriorKind kind = PriorKind::standard_normal;
  /// Latent dimension D, >= 1.
  std::int64_t latent_dim = 10;
  /// gaussian_mixture: number of components K, >= 1. Ignored by standard_normal.
  std::int64_t components = 10;
  /// gaussian_mixture: learn p(y) (its logits get gradients) instead of keeping it uniform.
  /// The logits are registered either way, so the checkpoint format does not depend on it.
  bool learn_weights = false;
  /// gaussian_mixture: initial component means are drawn N(0, mean_init_scale^2) with `seed`
  /// (distinct means break the symmetry between components); log-variances start at 0 and
  /// logits at 0 (uniform p(y)). >= 0.
  double mean_init_scale = 1.0;
  std::uint64_t seed = 0;
};

/// What the encoder hands the prior for a batch of cells.
/// - standard_normal: `z` is cells x D; `component_logits` is ignored (may be undefined).
/// - gaussian_mixture: `z` is cells x K x D, row k being q(z|x, y=k); `component_logits` is
///   cells x K, the unnormalised log q(y|x).
struct LatentPosterior {
  DiagonalGaussian z;
  torch::Tensor component_logits;
};

/// Draws from the prior (Prior::sample).
struct PriorSample {
  torch::Tensor z;           ///< n x D
  torch::Tensor components;  ///< n, int64: the component each row was drawn from (0 for normal)
};

/// A prior on z. A torch::nn::Module so that learned parameters are trained, moved between
/// devices and dtypes (`to(torch::kDouble)`) and saved with the model; register it in the model
/// with register_module("prior", prior).
class Prior : public torch::nn::Module {
 public:
  virtual PriorKind kind() const = 0;
  /// D.
  virtual std::int64_t latent_dim() const = 0;
  /// K (1 for standard_normal).
  virtual std::int64_t components() const = 0;

  /// KL(q(y, z | x) || p(y, z)) per cell: a tensor of length cells, differentiable w.r.t. the
  /// posterior and the prior's parameters. Throws std::invalid_argument when shapes do not match
  /// (see LatentPosterior).
  virtual torch::Tensor kl(const LatentPosterior& q) const = 0;

  /// p(y = k | z) under the prior mixture: cells x K, rows summing to 1 (a column of ones for
  /// standard_normal). `z` is cells x D.
  virtual torch::Tensor responsibilities(const torch::Tensor& z) const = 0;

  /// log p(z) of each row of `z` (cells x D): a tensor of length cells, differentiable. For the
  /// mixture, logsumexp_k (log p(y=k) + log N(z; m_k, exp(s_k))). Computed in the promoted
  /// dtype of z and the prior's parameters (pass double z for a double result). Used by
  /// importance sampling (VaeImpl::marginal_log_likelihood).
  virtual torch::Tensor log_density(const torch::Tensor& z) const = 0;

  /// `n` draws of z from the prior, without gradient, using only `generator`. With `component`,
  /// every draw comes from p(z | y = component) (0 <= component < K; standard_normal accepts
  /// only 0); otherwise y is drawn from p(y) for each row. Mixture draws have the dtype and
  /// device of the prior's parameters; standard_normal draws are float on the generator's
  /// device.
  virtual PriorSample sample(std::int64_t n, torch::Generator& generator,
                             std::optional<std::int64_t> component = std::nullopt) const = 0;
};

/// N(0, I): KL per cell is kl_standard_normal(q.z); no parameters.
class StandardNormalPrior final : public Prior {
 public:
  explicit StandardNormalPrior(std::int64_t latent_dim);
  PriorKind kind() const override { return PriorKind::standard_normal; }
  std::int64_t latent_dim() const override { return latent_dim_; }
  std::int64_t components() const override { return 1; }
  torch::Tensor kl(const LatentPosterior& q) const override;
  torch::Tensor responsibilities(const torch::Tensor& z) const override;
  torch::Tensor log_density(const torch::Tensor& z) const override;
  PriorSample sample(std::int64_t n, torch::Generator& generator,
                     std::optional<std::int64_t> component = std::nullopt) const override;

 private:
  std::int64_t latent_dim_;
};

/// p(y) p(z|y) with p(z|y=k) = N(means[k], diag exp(log_variances[k])) and
/// p(y) = softmax(logits). With q(y|x) = softmax(component_logits) = (q_1 .. q_K):
///
///   KL per cell = KL(q(y|x) || p(y)) + sum_k q_k KL(q(z|x,k) || p(z|k))
///               = sum_k q_k (log q_k - log p_k) + sum_k q_k kl_diagonal_gaussians(q_k, p_k),
///
/// the exact KL of the joint q(y, z | x) = q(y|x) q(z|x,y) from p(y, z) (scVAE's GMVAE KL with
/// the Gaussian part in closed form rather than sampled). Logs come from log_softmax, never from
/// forming probabilities.
///
/// Registered parameters (their names are the checkpoint format):
///   "means" (K x D), "log_variances" (K x D), "logits" (K; requires_grad = learn_weights).
class GaussianMixturePrior final : public Prior {
 public:
  explicit GaussianMixturePrior(const PriorOptions& options);
  PriorKind kind() const override { return PriorKind::gaussian_mixture; }
  std::int64_t latent_dim() const override { return means.size(1); }
  std::int64_t components() const override { return means.size(0); }
  torch::Tensor kl(const LatentPosterior& q) const override;
  /// softmax_k(log p_k + log N(z; m_k, exp(s_k))).
  torch::Tensor responsibilities(const torch::Tensor& z) const override;
  torch::Tensor log_density(const torch::Tensor& z) const override;
  PriorSample sample(std::int64_t n, torch::Generator& generator,
                     std::optional<std::int64_t> component = std::nullopt) const override;

  /// log p(y): K, log_softmax(logits).
  torch::Tensor log_weights() const;

  torch::Tensor means;
  torch::Tensor log_variances;
  torch::Tensor logits;
};

/// The prior of options.kind. Throws InputError for latent_dim < 1, components < 1 (mixture) or
/// a negative mean_init_scale.
std::shared_ptr<Prior> make_prior(const PriorOptions& options);

}  // namespace cellvae::model
