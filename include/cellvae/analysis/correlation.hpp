// Rank and linear correlation of paired vectors.
#pragma once

#include <vector>

namespace cellvae::analysis {

/// Ranks 1..n with ties given their average rank ("midranks", scipy.stats.rankdata's default).
std::vector<double> average_ranks(const std::vector<double>& values);

/// Pearson correlation of two equally long vectors; NaN when either is constant or shorter
/// than 2.
double pearson(const std::vector<double>& a, const std::vector<double>& b);

/// Spearman rank correlation: Pearson correlation of the average ranks
/// (scipy.stats.spearmanr). Pairs where either value is NaN are dropped first. NaN when fewer
/// than 2 pairs remain or either vector is constant.
double spearman(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace cellvae::analysis
