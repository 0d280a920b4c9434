// Statistics and PCA against scipy / scikit-learn (tests/reference/make_analysis_reference.py).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include <torch/torch.h>

#include "analysis_test_util.hpp"
#include "cellvae/analysis/correlation.hpp"
#include "cellvae/analysis/pca.hpp"
#include "cellvae/analysis/roc_auc.hpp"
#include "cellvae/analysis/two_sample.hpp"
#include "cellvae/error.hpp"

namespace cellvae::analysis {
namespace {

using cellvae::testing::analysis_reference;
using cellvae::testing::doubles;
using cellvae::testing::ints;

torch::Tensor tensor_of(const nlohmann::json& j) {
  if (!j.empty() && j[0].is_array()) {
    const auto m = cellvae::testing::matrix(j);
    return torch::tensor(m.values, torch::kFloat64).view({m.rows, m.cols});
  }
  return torch::tensor(doubles(j), torch::kFloat64);
}

void expect_close(const torch::Tensor& actual, const torch::Tensor& expected, double tol) {
  ASSERT_EQ(actual.sizes(), expected.sizes());
  const double diff = (actual - expected).abs().max().item<double>();
  EXPECT_LE(diff, tol) << "largest difference " << diff;
}

TEST(KsStatistic, MatchesScipy) {
  for (const auto& c : analysis_reference()["ks"])
    EXPECT_NEAR(ks_statistic(doubles(c["a"]), doubles(c["b"])), c["statistic"].get<double>(),
                1e-12);
}

TEST(KsStatistic, DisjointSamplesAndEdgeCases) {
  EXPECT_DOUBLE_EQ(ks_statistic({1, 2, 3}, {4, 5}), 1.0);
  EXPECT_DOUBLE_EQ(ks_statistic({1, 2, 3}, {3, 2, 1}), 0.0);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_DOUBLE_EQ(ks_statistic({1, nan, 2}, {1, 2}), 0.0);  // NaN ignored
  EXPECT_TRUE(std::isnan(ks_statistic({}, {1.0})));
}

TEST(EnergyDistance, MatchesScipyIn1DAndNumpyIn2D) {
  const auto& e = analysis_reference()["energy"];
  auto u = tensor_of(e["u"]).unsqueeze(1), v = tensor_of(e["v"]).unsqueeze(1);
  const auto r1 = energy_distance(u, v);
  EXPECT_NEAR(r1.distance, e["distance_1d"].get<double>(), 1e-10);
  EXPECT_NEAR(r1.coefficient, e["coefficient_1d"].get<double>(), 1e-10);
  const auto r2 = energy_distance(tensor_of(e["x"]), tensor_of(e["y"]));
  EXPECT_NEAR(r2.distance, e["distance_2d"].get<double>(), 1e-10);
  EXPECT_NEAR(r2.coefficient, e["coefficient_2d"].get<double>(), 1e-10);
  const auto same = energy_distance(tensor_of(e["x"]), tensor_of(e["x"]));
  EXPECT_NEAR(same.distance, 0.0, 1e-12);
}

TEST(Mmd, MatchesFidelityPyDefinition) {
  const auto& m = analysis_reference()["mmd"];
  auto a = tensor_of(m["a"]), b = tensor_of(m["b"]);
  const auto r = mmd_rbf(a, b);
  EXPECT_NEAR(r.mmd2, m["mmd2"].get<double>(), 1e-10);
  EXPECT_NEAR(r.bandwidth, m["bandwidth"].get<double>(), 1e-9);
  const auto s = mmd_rbf(a.slice(0, 0, 20), a.slice(0, 20));
  EXPECT_NEAR(s.mmd2, m["mmd2_same_distribution"].get<double>(), 1e-10);
  EXPECT_NEAR(s.bandwidth, m["bandwidth_same_distribution"].get<double>(), 1e-9);
  // A given bandwidth is used as is; identical samples are 0 apart.
  MmdOptions fixed;
  fixed.bandwidth = 3.0;
  EXPECT_DOUBLE_EQ(mmd_rbf(a, b, fixed).bandwidth, 3.0);
  EXPECT_NEAR(mmd_rbf(a, a).mmd2, 0.0, 1e-12);
}

TEST(RocAuc, MatchesSklearnWithTies) {
  const auto& a = analysis_reference()["auc"];
  EXPECT_NEAR(roc_auc(doubles(a["scores"]), ints(a["labels"])), a["auc"].get<double>(), 1e-12);
  EXPECT_DOUBLE_EQ(roc_auc({0.1, 0.2, 0.8, 0.9}, {0, 0, 1, 1}), 1.0);
  EXPECT_DOUBLE_EQ(roc_auc({0.9, 0.8, 0.2, 0.1}, {0, 0, 1, 1}), 0.0);
  EXPECT_DOUBLE_EQ(roc_auc({0.5, 0.5, 0.5, 0.5}, {0, 1, 0, 1}), 0.5);
  EXPECT_THROW(roc_auc({0.1, 0.2}, {1, 1}), std::invalid_argument);
}

TEST(Correlation, MatchesScipyWithTies) {
  const auto& s = analysis_reference()["spearman"];
  const auto a = doubles(s["a"]), b = doubles(s["b"]);
  EXPECT_NEAR(spearman(a, b), s["spearman"].get<double>(), 1e-12);
  EXPECT_NEAR(pearson(a, b), s["pearson"].get<double>(), 1e-12);
  const auto ranks = average_ranks(a), expected = doubles(s["ranks_a"]);
  ASSERT_EQ(ranks.size(), expected.size());
  for (std::size_t i = 0; i < ranks.size(); ++i) EXPECT_DOUBLE_EQ(ranks[i], expected[i]);
  EXPECT_TRUE(std::isnan(spearman({1, 1, 1}, {1, 2, 3})));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_NEAR(spearman({1, 2, nan, 4}, {2, 4, 5, 8}), 1.0, 1e-15);  // NaN pair dropped
}

TEST(Pca, ExactMatchesSklearnFullSvd) {
  const auto& p = analysis_reference()["pca"];
  PcaOptions o;
  o.n_components = p["n_components"].get<std::int64_t>();
  o.method = PcaMethod::exact;
  const auto r = run_pca(tensor_of(p["x"]), o);
  EXPECT_EQ(r.n_components, o.n_components);
  expect_close(r.mean, tensor_of(p["mean"]), 1e-12);
  auto ev = tensor_of(p["explained_variance"]);
  expect_close(r.explained_variance / ev, torch::ones_like(ev), 1e-10);
  expect_close(r.explained_variance_ratio, tensor_of(p["explained_variance_ratio"]), 1e-12);
  expect_close(r.components, tensor_of(p["components"]), 1e-9);
  expect_close(r.scores, tensor_of(p["scores"]), 1e-8);
  expect_close(pca_transform(r, tensor_of(p["new"])), tensor_of(p["transform_new"]), 1e-8);
}

TEST(Pca, RandomizedAgreesWithExactOnLeadingComponents) {
  const auto& p = analysis_reference()["pca"];
  PcaOptions o;
  o.n_components = p["n_components"].get<std::int64_t>();
  o.oversamples = 5;  // 10 of 20 columns: the randomized path is taken
  o.seed = 7;
  const auto r = run_pca(tensor_of(p["x"]), o);
  // The fixture has 4 strong directions; the 5th component is noise (a small spectral gap),
  // where a randomized method is only approximate.
  auto ev = tensor_of(p["explained_variance"]);
  expect_close(r.explained_variance.slice(0, 0, 4) / ev.slice(0, 0, 4),
               torch::ones({4}, torch::kFloat64), 1e-10);
  expect_close(r.explained_variance / ev, torch::ones_like(ev), 1e-3);
  expect_close(r.components.slice(0, 0, 4), tensor_of(p["components"]).slice(0, 0, 4), 1e-6);
  // Same seed, same result.
  const auto again = run_pca(tensor_of(p["x"]), o);
  EXPECT_TRUE(torch::equal(r.components, again.components));
}

TEST(Pca, ClampsComponentsAndRejectsBadInput) {
  auto x = torch::randn({6, 4}, torch::kFloat64);
  PcaOptions o;
  o.n_components = 50;
  EXPECT_EQ(run_pca(x, o).n_components, 4);
  EXPECT_THROW(run_pca(torch::randn({1, 4}, torch::kFloat64)), std::invalid_argument);
  EXPECT_THROW(run_pca(torch::randn({5}, torch::kFloat64)), std::invalid_argument);
}

TEST(MethodNames, RoundTrip) {
  for (auto m : {PcaMethod::randomized, PcaMethod::exact})
    EXPECT_EQ(parse_pca_method(to_string(m)), m);
  for (auto c : {Classifier::knn, Classifier::random_forest, Classifier::logistic})
    EXPECT_EQ(parse_classifier(to_string(c)), c);
  EXPECT_THROW(parse_classifier("svm"), InputError);
  try {
    parse_pca_method("full");
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("randomized, exact"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cellvae::analysis
