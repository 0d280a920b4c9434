// The one cellvae VAE module: encoder -> posterior q(z|x) -> prior, decoder -> likelihood
// parameters, optional library-size latent. Its parts are chosen by ModelConfig at run time;
// VAE, CVAE, scVI and GMVAE are configurations of this class. The module computes tensors only
// (no files, no gene names): the model directory (model_dir.hpp) and the trainer
// (train/trainer.hpp) sit on top.
//
// Orientation: rows are cells, columns are genes. Float32 by default; `to(torch::kDouble)` works
// (gradient checks).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <optional>

#include "cellvae/model/likelihood.hpp"
#include "cellvae/model/mlp.hpp"
#include "cellvae/model/model_config.hpp"
#include "cellvae/model/posterior.hpp"
#include "cellvae/model/prior.hpp"
#include "cellvae/model/sparse_linear.hpp"

namespace cellvae::model {

/// A minibatch of cells as the module reads it.
struct CellBatch {
  /// cells x genes, floating: what the likelihood models. Counts for count likelihoods
  /// (InputKind::log1p), the scaled values for InputKind::identity.
  torch::Tensor x;
  /// int64 codes in [0, n_labels), length cells; required when config.n_labels > 0 (InputError
  /// when missing or out of range), ignored when the config has no labels.
  torch::Tensor labels;
  /// int64 codes in [0, n_batches), length cells; required when config.n_batches > 0, ignored
  /// otherwise. With LibraryKind::latent they also pick each cell's library prior.
  torch::Tensor batches;
  /// LibraryKind::observed: optional per-cell log library (length cells or cells x 1)
  /// overriding log(max(1, x.sum(1))) (e.g. totals over all genes, not just the model's);
  /// undefined = computed from x. Not read with LibraryKind::none or latent: the latent
  /// library's prior N(m_b, v_b) is the module's buffers (set_library_prior) gathered by the
  /// cells' batch codes (entry 0 for every cell without batches).
  torch::Tensor log_library;
  /// Optional: x again, as CSR rows on the CPU (same values, zeros not stored; indices
  /// ascending within a row), for the encoder's first layer (ModelConfig::sparse_input).
  /// data::make_batch fills it. Must hold exactly x's values (InputError for other shapes);
  /// ignored when undefined.
  CsrRows x_csr;
};

/// q(z, l | x) for a batch.
struct Encoding {
  /// q(z|x) (standard normal prior: cells x D) or q(y|x), q(z|x,y) (mixture: cells x K x D).
  LatentPosterior z;
  /// LibraryKind::latent: q(l|x) with mean and log-variance cells x 1; undefined otherwise.
  DiagonalGaussian library;
};

/// Per-cell terms of the negative ELBO (each a tensor of length cells), computed in one place
/// so that training, validation, history and `cellvae score` read the same numbers.
struct LossTerms {
  torch::Tensor reconstruction;  ///< -E_q log p(x | z, l), one z (and l) draw per cell
  torch::Tensor kl_z;            ///< KL(q(z[, y] | x) || p(z[, y]))
  torch::Tensor kl_library;      ///< KL(q(l|x) || p(l)); zeros unless LibraryKind::latent
  /// reconstruction + kl_library + kl_weight * kl_z: minimised (its mean) by training.
  torch::Tensor loss;
};

/// Importance-sampled estimates for `cellvae score`.
struct MarginalLikelihood {
  /// log p(x) per cell, estimated as logmeanexp_s [log p(x|z_s,l_s) + log p(z_s,l_s)
  /// - log q(z_s,l_s|x)] over n_samples draws from q (a lower bound that tightens as
  /// n_samples grows). Length cells, double.
  torch::Tensor log_likelihood;
};

/// The module. Registered submodules/parameters (the checkpoint format; keep them stable):
///   "encoder" (Mlp), "z_mean", "z_log_variance" (Linear heads; mixture prior: also
///   "component_logits" Linear(H, K), and parameters "component_embedding" and
///   "component_log_variance_embedding", K x D, added to the outputs of the z_mean and
///   z_log_variance heads: q(z|x,y=k) = N(z_mean(h) + e_k, exp(z_log_variance(h) + f_k) + eps),
///   which is what heads reading [h, one-hot y] compute; both start at zero, the prior's
///   distinct means break the symmetry),
///   "library_encoder", "library_mean", "library_log_variance" (latent library only),
///   "decoder" (Mlp), "mean_head" (Linear), "dispersion_head" (cell dispersion) or
///   "log_dispersion" parameter (gene: G; gene-batch: n_batches x G; gene-label: n_labels x G;
///   NB/ZINB only, initialised N(0, 1) like scVI), "zero_head" (ZIP/ZINB), "log_scale"
///   parameter or head (Gaussian, shaped as dispersion, parameter initialised to 0: sd 1),
///   "prior" (Prior), buffers "library_prior_mean", "library_prior_variance" (n_batches or 1
///   entries; latent library only; mean 0, variance 1 until set_library_prior).
///
/// Encoder and library encoder: Mlp(encoder_hidden, activation, norm, dropout) on log1p(x) or x,
/// covariates (labels if labels_in_encoder, batches if batches_in_encoder) into the first
/// layer. Decoder: Mlp(decoder_hidden, activation, norm, no dropout) on z, covariates (labels,
/// batches) as decoder_injection says. When a hidden list is empty the Mlp is the identity and
/// the covariates go into its heads instead (Linear([input, one-hot])), so a linear decoder of
/// a CVAE still depends on the label. Posterior variances are exp(head) + variance_epsilon
/// (computed as a log-variance with logaddexp, so no overflow).
///
/// Computation (same results up to float rounding): the encoders' first layer reads
/// CellBatch::x_csr instead of x when ModelConfig::sparse_input selects it (sparse_linear.hpp);
/// hidden layers and output heads with enough work split their products over the intra-op
/// threads (parallel_linear.hpp); NB, ZINB and Bernoulli use the fused likelihood kernels
/// (ModelConfig::fused_likelihood).
///
/// Decoder means: bernoulli p = sigmoid(head); gaussian mean = head; count likelihoods with
/// library observed/latent mu = exp(log library) * softmax(head) (scVI), with library none
/// mu = exp(head). theta = exp(log_dispersion rows or dispersion_head).
class VaeImpl : public torch::nn::Module {
 public:
  /// validate()s the config, seeds torch's global generator with config.seed and builds the
  /// layers (so equal configs give bit-identical initial weights).
  explicit VaeImpl(ModelConfig config);

  const ModelConfig& config() const { return config_; }
  const Likelihood& likelihood() const { return *likelihood_; }
  const Prior& prior() const { return *prior_; }

  /// LibraryKind::latent: sets the per-batch prior of the log library (length n_batches, or 1
  /// without batches; a length-1 prior with batches applies to every batch): mean and
  /// (population) variance of log(total count) of the training cells of each batch
  /// (data::library_prior). Stored as buffers, so saved with the weights. The KL uses
  /// max(variance, 1e-4), so that a batch whose cells all have one library size gives a large
  /// but finite KL. Throws InputError for other lengths, non-finite values or a negative
  /// variance, std::logic_error when the library is not latent.
  void set_library_prior(const torch::Tensor& mean, const torch::Tensor& variance);

  /// The encoder for a batch (train/eval mode as set on the module).
  Encoding encode(const CellBatch& batch);

  /// Decoder outputs for latent z (cells x D) with log library `log_library` (cells x 1;
  /// ignored with LibraryKind::none) and the cells' label/batch codes (as CellBatch; undefined
  /// when the config has none).
  LikelihoodParams decode(const torch::Tensor& z, const torch::Tensor& log_library,
                          const torch::Tensor& labels, const torch::Tensor& batches);

  /// The loss terms of a batch with one reparameterised draw of z (and l) using `generator`.
  /// Mixture prior: the reconstruction is sum_k q(y=k|x) (-log p(x | z_k)) with one z_k draw
  /// per component (scVAE's marginalisation over y). kl_weight >= 0 (λ times any warm-up).
  LossTerms loss(const CellBatch& batch, torch::Generator& generator, double kl_weight = 1.0);

  /// Posterior mean of z per cell, cells x D: q(z|x)'s mean; for the mixture prior the
  /// q(y|x)-weighted average of the component means. Eval mode, no gradient, restores the
  /// module's mode.
  torch::Tensor latent_mean(const CellBatch& batch);

  /// q(y|x) for the mixture prior (cells x K, rows sum to 1); a column of ones otherwise.
  /// Eval mode, no gradient, restores the module's mode (as latent_mean).
  torch::Tensor component_probabilities(const CellBatch& batch);

  /// Observed/latent log library of each cell as the decoder would use it: log(max(1,
  /// x.sum(1))) (or batch.log_library) for observed, the posterior mean of l for latent,
  /// zeros for none. cells x 1, the module's dtype. No gradient; latent: eval mode, restores the
  /// module's mode.
  torch::Tensor log_library(const CellBatch& batch);

  /// Importance-sampled log p(x) (eval mode, no gradient; restores the mode). The proposal is
  /// the encoder's q(z|x) (mixture prior: y ~ q(y|x), then z ~ q(z|x,y), weighed with the
  /// marginal q(z|x) = sum_k q(y=k|x) q(z|x,k)) and, for the latent library, q(l|x) against the
  /// library prior. Weights are combined in double; samples are processed in chunks of at most
  /// about 4096 decoded rows, so memory does not grow with n_samples beyond cells x n_samples
  /// doubles. n_samples >= 1 (InputError otherwise). Result on the module's device.
  MarginalLikelihood marginal_log_likelihood(const CellBatch& batch, std::int64_t n_samples,
                                             torch::Generator& generator);

 private:
  // Encoder input (log1p or identity) of batch.x, in the module's dtype and device.
  torch::Tensor encoder_input(const torch::Tensor& x) const;
  // True when the encoders read batch.x_csr (ModelConfig::sparse_input); checks its shape.
  bool reads_sparse(const CellBatch& batch) const;
  // The encoder input from batch.x_csr: log1p of the stored values, or the values.
  CsrRows sparse_encoder_input(const CsrRows& x) const;
  // The encoder covariates as one-hot column indices offset by n_genes (labels, then batches),
  // cells x (number used), or undefined when none.
  torch::Tensor covariate_columns(const torch::Tensor& labels, const torch::Tensor& batches,
                                  bool use_labels, bool use_batches) const;
  // One-hot covariates (labels then batches, each when `use_*` and configured), or undefined.
  torch::Tensor covariates(const torch::Tensor& labels, const torch::Tensor& batches,
                           bool use_labels, bool use_batches) const;
  // log(max(1, x.sum(1))) or batch.log_library, cells x 1.
  torch::Tensor observed_log_library(const CellBatch& batch, const torch::Tensor& x) const;
  // The latent library's prior N(m_b, v_b) per cell (cells x 1 each).
  DiagonalGaussian library_prior_of(const torch::Tensor& batches, std::int64_t cells) const;
  // A per-gene parameter table (G, n_batches x G or n_labels x G) as the rows of each cell.
  torch::Tensor gene_rows(const torch::Tensor& table, const torch::Tensor& labels,
                          const torch::Tensor& batches) const;
  // The reference dtype/device of the module (mean_head's weight).
  torch::TensorOptions tensor_options() const;

  ModelConfig config_;
  std::unique_ptr<Likelihood> likelihood_;
  std::shared_ptr<Prior> prior_;

  Mlp encoder_{nullptr};
  torch::nn::Linear z_mean_{nullptr};
  torch::nn::Linear z_log_variance_{nullptr};
  torch::nn::Linear component_logits_{nullptr};
  torch::Tensor component_embedding_;
  torch::Tensor component_log_variance_embedding_;

  Mlp library_encoder_{nullptr};
  torch::nn::Linear library_mean_{nullptr};
  torch::nn::Linear library_log_variance_{nullptr};
  torch::Tensor library_prior_mean_;
  torch::Tensor library_prior_variance_;

  Mlp decoder_{nullptr};
  torch::nn::Linear mean_head_{nullptr};
  torch::nn::Linear dispersion_head_{nullptr};
  torch::Tensor log_dispersion_;
  torch::nn::Linear zero_head_{nullptr};
  torch::nn::Linear log_scale_head_{nullptr};
  torch::Tensor log_scale_;

  std::int64_t encoder_covariate_dim_ = 0;
  std::int64_t decoder_covariate_dim_ = 0;
};
TORCH_MODULE(Vae);

}  // namespace cellvae::model
