// Adjusted Rand index and normalized mutual information against scikit-learn
// (tests/reference/make_cluster_reference.py).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cellvae/analysis/cluster_metrics.hpp"
#include "cellvae/error.hpp"
#include "cluster_test_util.hpp"

namespace cellvae::analysis {
namespace {

namespace cvt = cellvae::testing;

TEST(ClusterMetrics, MatchSklearn) {
  for (const auto& c : cvt::cluster_reference()["metrics"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto a = cvt::json_labels(c["a"]), b = cvt::json_labels(c["b"]);
    EXPECT_NEAR(adjusted_rand_index(a, b), c["ari"].get<double>(), 1e-12);
    EXPECT_NEAR(normalized_mutual_information(a, b), c["nmi"].get<double>(), 1e-12);
    // Both are symmetric.
    EXPECT_NEAR(adjusted_rand_index(b, a), c["ari"].get<double>(), 1e-12);
    EXPECT_NEAR(normalized_mutual_information(b, a), c["nmi"].get<double>(), 1e-12);
  }
}

TEST(ClusterMetrics, IdenticalPartitionsScoreOneWhateverTheNames) {
  const std::vector<std::int32_t> a{0, 0, 1, 1, 1, 2, 2, 5, 5};
  const std::vector<std::int32_t> b{9, 9, -3, -3, -3, 4, 4, 0, 0};
  EXPECT_DOUBLE_EQ(adjusted_rand_index(a, b), 1.0);
  EXPECT_NEAR(normalized_mutual_information(a, b), 1.0, 1e-15);
  EXPECT_DOUBLE_EQ(adjusted_rand_index({3}, {7}), 1.0);  // one cell
}

TEST(ClusterMetrics, InputErrors) {
  EXPECT_NE(cvt::error_of([] {
              adjusted_rand_index({0, 1}, {0});
            }).find("different lengths"),
            std::string::npos);
  EXPECT_NE(cvt::error_of([] { normalized_mutual_information({}, {}); }).find("empty"),
            std::string::npos);
}

}  // namespace
}  // namespace cellvae::analysis
