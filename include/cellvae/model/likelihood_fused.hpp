// A fused, zero-aware NB / ZINB log-likelihood for the CPU: the reconstruction term of scVI-like
// models in one pass over the batch, as a torch::autograd::Function with a hand-written backward.
//
// Why: in the reference (scvi-tools) lgamma/digamma of the ZINB likelihood take a quarter to a
// third of an epoch, and 74-90% of count entries are zero. Here
// - a zero count needs no gamma function: log p(0) = -θ log1p(μ/θ), and its gradients need no
//   digamma;
// - lgamma(x + 1) does not depend on the parameters: a table for integer counts < 4096, never
//   differentiated;
// - with per-gene θ (1 x genes), lgamma(θ) and digamma(θ) are computed once per gene;
// - values and gradients are computed together in the forward pass (when a parameter requires a
//   gradient) and only scaled in the backward pass; the per-entry log-probabilities are never
//   stored, only per-cell sums (accumulated in double);
// - per-entry arithmetic is in double for float inputs too, so the fused result is at least as
//   accurate as the plain float path (nb_log_prob in likelihood.hpp), which it otherwise equals
//   (same eps'd formula).
// Cells are split over threads with at::parallel_for (torch's intra-op thread count).
// Double backward is not supported.
#pragma once

#include <torch/torch.h>

namespace cellvae::model {

/// Per-cell sums over genes of the NB log-pmf (zero_logits undefined) or the ZINB log-pmf,
/// a tensor of length cells, equal to nb_log_prob(x, mu, theta).sum(1) (resp. zinb_log_prob).
/// x and mu: cells x genes; theta and zero_logits: cells x genes, 1 x genes or genes. CPU,
/// float or double (x converted to mu's dtype). Differentiable w.r.t. mu, theta and
/// zero_logits (not x). Throws std::invalid_argument for other shapes, devices or dtypes.
torch::Tensor fused_nb_log_prob_per_cell(const torch::Tensor& x, const torch::Tensor& mu,
                                         const torch::Tensor& theta,
                                         const torch::Tensor& zero_logits = {});

}  // namespace cellvae::model
