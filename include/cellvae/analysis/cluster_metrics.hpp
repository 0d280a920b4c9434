// Agreement between two clusterings of the same cells: adjusted Rand index and normalized
// mutual information. Both are symmetric, ignore how clusters are numbered, and are 1 for
// identical partitions. Labels are any integers (e.g. k-means clusters against cell types);
// only equality between labels matters.
#pragma once

#include <cstdint>
#include <vector>

namespace cellvae::analysis {

/// Adjusted Rand index (Hubert & Arabie 1985): the Rand index (fraction of cell pairs on which
/// the two clusterings agree, together or apart) corrected for chance under the permutation
/// model, (RI - E[RI]) / (max RI - E[RI]). 1 for identical partitions, about 0 for independent
/// ones, can be negative (down to -0.5). When both clusterings put every cell in one cluster,
/// or every cell in its own cluster, the index is 1 (sklearn.metrics.adjusted_rand_score).
/// The two vectors must have the same length (>= 1); throws InputError otherwise.
double adjusted_rand_index(const std::vector<std::int32_t>& a, const std::vector<std::int32_t>& b);

/// Normalized mutual information with arithmetic-mean normalisation: I(a; b) / ((H(a) + H(b))/2)
/// with natural logarithms over the empirical joint distribution (scikit-learn's default,
/// normalized_mutual_info_score(average_method="arithmetic")). In [0, 1]; 1 for identical
/// partitions, 0 for independent ones. When both clusterings have a single cluster it is 1;
/// when only one of them has, 0. Same length (>= 1) required; throws InputError otherwise.
double normalized_mutual_information(const std::vector<std::int32_t>& a,
                                     const std::vector<std::int32_t>& b);

}  // namespace cellvae::analysis
