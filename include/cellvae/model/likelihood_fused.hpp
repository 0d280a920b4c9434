// Fused per-cell log-likelihoods for the CPU: a zero-aware NB / ZINB (below) and the Bernoulli
// of VAExprs (fused_bernoulli_log_prob_per_cell, at the end).
//
// The NB / ZINB one: the reconstruction term of scVI-like
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
// - float inputs: every entry is first evaluated as a zero count in float, vectorized (AVX2 where
//   the CPU has it: 8 entries per instruction, with polynomial exp/log accurate to ~1e-7
//   relative); the nonzero counts (and zero logits beyond ±30) are then recomputed in double,
//   with lgamma/digamma differences of per-gene θ tabulated for counts 1..8. Per-cell sums are
//   accumulated in double, so the result is at least as accurate as the plain float path
//   (nb_log_prob in likelihood.hpp), which it otherwise equals (same eps'd formula);
// - double inputs: every entry in double (the exact path, FusedNbOptions::vectorized = false).
// Cells are split over threads with at::parallel_for (torch's intra-op thread count).
// Double backward is not supported, and the backward may run only once per forward (it scales
// the saved derivatives in place; a second run throws std::logic_error).
#pragma once

#include <torch/torch.h>

namespace cellvae::model {

/// Options of fused_nb_log_prob_per_cell.
struct FusedNbOptions {
  /// Float inputs: zero counts through the vectorized float pass (see above). false = every
  /// entry in double, as for double inputs (slower; kept as the reference the fast path is
  /// tested against).
  bool vectorized = true;
};

/// Per-cell sums over genes of the NB log-pmf (zero_logits undefined) or the ZINB log-pmf,
/// a tensor of length cells, equal to nb_log_prob(x, mu, theta).sum(1) (resp. zinb_log_prob).
/// x and mu: cells x genes; theta and zero_logits: cells x genes, 1 x genes or genes. CPU,
/// float or double (x converted to mu's dtype). Differentiable w.r.t. mu, theta and
/// zero_logits (not x). Throws std::invalid_argument for other shapes, devices or dtypes.
torch::Tensor fused_nb_log_prob_per_cell(const torch::Tensor& x, const torch::Tensor& mu,
                                         const torch::Tensor& theta,
                                         const torch::Tensor& zero_logits = {},
                                         const FusedNbOptions& options = {});

/// Per-cell sums over genes of bernoulli_log_prob(x, p) (likelihood.hpp: x log p + (1 - x)
/// log(1 - p), p clamped to [kBernoulliEps, 1 - kBernoulliEps], no gradient outside), a tensor
/// of length cells, in one pass (float: vectorized log, ~1e-7 relative; sums in double) with the
/// derivative kept for the backward pass. x and p: cells x genes, CPU, float or double (x
/// converted to p's dtype). Differentiable w.r.t. p; the backward may run once. Throws
/// std::invalid_argument for other shapes, devices or dtypes.
torch::Tensor fused_bernoulli_log_prob_per_cell(const torch::Tensor& x, const torch::Tensor& p);

}  // namespace cellvae::model
