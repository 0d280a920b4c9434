// Two-sample statistics: how far apart two samples' distributions are.
//
// - ks_statistic: Kolmogorov-Smirnov distance between two 1-D empirical distributions.
// - energy_distance: Szekely-Rizzo energy distance between two samples in d dimensions.
// - mmd_rbf: squared maximum mean discrepancy with a Gaussian (RBF) kernel (Gretton et al. 2012).
//
// All three are 0 for identical samples and grow as the distributions separate. They are
// descriptive statistics here (no p-values): cellvae compares them against a real-vs-real
// control row instead.
#pragma once

#include <optional>
#include <vector>

#include <torch/types.h>

namespace cellvae::analysis {

/// Two-sample Kolmogorov-Smirnov statistic: sup_x |F_a(x) - F_b(x)| over the two empirical
/// distribution functions, in [0, 1] (scipy.stats.ks_2samp(a, b).statistic). Ties within and
/// across samples are handled exactly. NaN values are ignored; returns NaN when either sample
/// is empty after that.
double ks_statistic(std::vector<double> a, std::vector<double> b);

struct EnergyResult {
  /// Energy distance E = 2 E|X-Y| - E|X-X'| - E|Y-Y'| (Euclidean norms; expectations are means
  /// over all pairs, self-pairs included, i.e. V-statistics). >= 0; 0 iff the samples are equal
  /// as distributions. In 1-D, E equals scipy.stats.energy_distance(a, b) squared.
  double distance = 0;
  /// E / (2 E|X-Y|), the energy coefficient of Rizzo & Szekely (2016): scale-free, in [0, 1].
  double coefficient = 0;
};

/// Energy distance between the rows of `x` (n x d) and `y` (m x d), both floating point.
/// Coordinates are used as given: scale them first when axes have different units.
EnergyResult energy_distance(const torch::Tensor& x, const torch::Tensor& y);

struct MmdOptions {
  /// The kernel is k(a, b) = exp(-|a - b|^2 / bandwidth). When empty, the median heuristic:
  /// the median of the squared distances |a - b|^2 > 0 between distinct rows of the pooled
  /// sample (the convention of ../shared/bench/fidelity.py). Must be > 0 when set.
  std::optional<double> bandwidth;
};

struct MmdResult {
  /// Squared MMD, biased (V-statistic) estimate: mean k(x, x') + mean k(y, y') - 2 mean k(x, y)
  /// over all pairs, self-pairs included. Near 0 (of order 1/n) for samples of one
  /// distribution; at most 2.
  double mmd2 = 0;
  double bandwidth = 0;  ///< the bandwidth used (the median heuristic's when not given)
};

/// Squared MMD between the rows of `x` (n x d) and `y` (m x d) with an RBF kernel.
MmdResult mmd_rbf(const torch::Tensor& x, const torch::Tensor& y, const MmdOptions& options = {});

}  // namespace cellvae::analysis
