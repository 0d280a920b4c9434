// Observation models of the VAE behind one interface chosen at run time: log-probability of the
// data given the decoder's outputs (the reconstruction term of the loss), sampling (generating
// cells) and the mean (denoising). Bernoulli (VAExprs), Gaussian, Poisson, NB, ZIP, ZINB (scVI,
// scVAE).
//
// Orientation: rows are cells, columns are genes. Every tensor here is on one device and of one
// floating dtype (float or double); integer counts are passed as floating tensors.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "cellvae/model/likelihood_kind.hpp"

namespace cellvae::model {

/// Added inside logarithms of parameters that may underflow to 0 (log(mu + eps),
/// log(theta + eps)), as scvi-tools does (eps = 1e-8); gradients are those of the eps'd
/// expression. Bernoulli probabilities are clamped to [kBernoulliEps, 1 - kBernoulliEps]
/// like keras's binary_crossentropy (VAExprs), which stops the gradient outside that range.
inline constexpr double kLogEps = 1e-8;
inline constexpr double kBernoulliEps = 1e-7;

/// The decoder's outputs for a batch of cells. Which fields a likelihood reads:
///
/// | kind      | mean                    | inverse_dispersion | zero_logits | log_scale |
/// |-----------|-------------------------|--------------------|-------------|-----------|
/// | bernoulli | probability p in (0, 1) |                    |             |           |
/// | gaussian  | mean                    |                    |             | log sd    |
/// | poisson   | rate mu >= 0            |                    |             |           |
/// | nb        | mean mu >= 0            | theta > 0          |             |           |
/// | zip       | rate mu >= 0            |                    | logit(pi)   |           |
/// | zinb      | mean mu >= 0            | theta > 0          | logit(pi)   |           |
///
/// Shapes: `mean` is cells x genes; the others are cells x genes or broadcastable to it
/// (1 x genes or genes for per-gene parameters, see DispersionKind). Fields a kind does not read
/// may stay undefined.
///
/// Parameterisations:
/// - NB with mean mu and inverse dispersion theta: Var = mu + mu^2 / theta,
///   p(x) = Γ(x+θ) / (Γ(θ) x!) · (θ/(θ+μ))^θ · (μ/(θ+μ))^x
///   (scipy.stats.nbinom with n = θ, p = θ/(θ+μ)); θ -> ∞ gives Poisson(μ).
/// - Zero inflation: pi = sigmoid(zero_logits) is the probability of a structural zero;
///   p(0) = pi + (1 - pi) p_count(0), p(x > 0) = (1 - pi) p_count(x); computed with softplus and
///   log-sum-exp, never by forming pi.
/// - Gaussian: N(x; mean, exp(log_scale)^2).
/// - Bernoulli: x log p + (1 - x) log(1 - p) for x in [0, 1] (a density only for x in {0, 1};
///   for scaled continuous data it is the binary cross-entropy VAExprs uses). VAExprs's loss is
///   n_genes x keras's *mean* BCE over genes, i.e. exactly minus the per-cell sum returned by
///   log_prob_per_cell.
struct LikelihoodParams {
  torch::Tensor mean;
  torch::Tensor inverse_dispersion;  ///< theta (NB, ZINB)
  torch::Tensor zero_logits;         ///< logit of the structural-zero probability (ZIP, ZINB)
  torch::Tensor log_scale;           ///< log standard deviation (Gaussian)
};

/// Options of make_likelihood.
struct LikelihoodOptions {
  /// NB, ZINB and Bernoulli: compute log_prob_per_cell with the fused kernels
  /// (likelihood_fused.hpp) when the tensors are on the CPU; otherwise, or when false, with
  /// plain LibTorch operations (the reference the fused kernels are tested against). Both give
  /// the same values and gradients to rounding. Default true.
  bool fused = true;
};

/// One observation model. Implementations are stateless and cheap; thread-safe for const use.
class Likelihood {
 public:
  virtual ~Likelihood() = default;
  virtual LikelihoodKind kind() const = 0;

  /// Log-probability of every entry: cells x genes (the broadcast shape of x and the
  /// parameters), differentiable w.r.t. the parameters with plain autograd. Count models take
  /// log(x!) with lgamma and accept non-integer x (as scvi-tools does), but x must be >= 0.
  /// Throws std::invalid_argument when a parameter the kind needs is undefined.
  virtual torch::Tensor log_prob(const torch::Tensor& x, const LikelihoodParams& params) const = 0;

  /// Per-cell sums over genes of log_prob (a tensor of length cells): the reconstruction term
  /// of the loss. NB, ZINB and Bernoulli use the fused kernels when LikelihoodOptions::fused.
  virtual torch::Tensor log_prob_per_cell(const torch::Tensor& x,
                                          const LikelihoodParams& params) const;

  /// One draw per entry, cells x genes, without gradient. Counts are returned as floating
  /// values. NB draws Poisson(Gamma(shape θ, scale μ/θ)); zero-inflated models draw the
  /// structural zero as Bernoulli(pi). Uses only `generator` (torch::poisson,
  /// torch::_standard_gamma, torch::bernoulli and torch::randn all take one), so equal seeds
  /// give equal draws.
  virtual torch::Tensor sample(const LikelihoodParams& params,
                               torch::Generator& generator) const = 0;

  /// The expectation of the distribution, cells x genes: p (bernoulli), mean (gaussian),
  /// mu (poisson, nb), (1 - pi) mu (zip, zinb). Differentiable.
  virtual torch::Tensor mean(const LikelihoodParams& params) const = 0;
};

/// The likelihood of `kind`.
std::unique_ptr<Likelihood> make_likelihood(LikelihoodKind kind,
                                            const LikelihoodOptions& options = {});

// ---- elementwise log-probabilities (plain LibTorch; what the classes above compute) -------------

/// Negative binomial log-pmf, elementwise with broadcasting:
/// -θ log1p(μ/(θ+eps)) + x (log(μ+eps) - log(θ+μ+eps)) + lgamma(x+θ) - lgamma(θ) - lgamma(x+1),
/// with log(θ+μ+eps) = log(θ+eps) + log1p(μ/(θ+eps)); the log1p form keeps θ -> ∞ accurate.
torch::Tensor nb_log_prob(const torch::Tensor& x, const torch::Tensor& mu,
                          const torch::Tensor& theta);
/// Zero-inflated NB log-pmf: x = 0: softplus(nb(0) - z) - softplus(-z); x > 0: nb(x) - softplus(z),
/// with z the zero logits (scvi-tools's stable form).
torch::Tensor zinb_log_prob(const torch::Tensor& x, const torch::Tensor& mu,
                            const torch::Tensor& theta, const torch::Tensor& zero_logits);
/// Poisson log-pmf x log(μ+eps) - μ - lgamma(x+1).
torch::Tensor poisson_log_prob(const torch::Tensor& x, const torch::Tensor& mu);
/// Zero-inflated Poisson log-pmf (same zero-inflation form as zinb_log_prob).
torch::Tensor zip_log_prob(const torch::Tensor& x, const torch::Tensor& mu,
                           const torch::Tensor& zero_logits);
/// Normal log-density -log(2π)/2 - log_scale - ((x - mean) exp(-log_scale))^2 / 2.
torch::Tensor gaussian_log_prob(const torch::Tensor& x, const torch::Tensor& mean,
                                const torch::Tensor& log_scale);
/// Minus the binary cross-entropy: x log p + (1 - x) log(1 - p), p clamped to
/// [kBernoulliEps, 1 - kBernoulliEps].
torch::Tensor bernoulli_log_prob(const torch::Tensor& x, const torch::Tensor& p);

}  // namespace cellvae::model
