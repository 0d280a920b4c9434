// Area under the ROC curve of a binary score.
#pragma once

#include <cstdint>
#include <vector>

namespace cellvae::analysis {

/// ROC AUC of `scores` for telling label 1 (positive) from label 0: the probability that a
/// random positive scores higher than a random negative, ties counted one half (the
/// Mann-Whitney U statistic over n_pos * n_neg; equal to the trapezoidal area that
/// sklearn.metrics.roc_auc_score computes). 0.5 means the scores do not separate the classes.
/// Labels must be 0 or 1, one per score, with both present; throws std::invalid_argument
/// otherwise. NaN scores are not allowed.
double roc_auc(const std::vector<double>& scores, const std::vector<std::int32_t>& labels);

}  // namespace cellvae::analysis
