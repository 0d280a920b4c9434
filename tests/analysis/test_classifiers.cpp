// Neighbours and classifiers against scikit-learn (tests/reference/make_analysis_reference.py),
// and the properties the fidelity scores rely on.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

#include "analysis_test_util.hpp"
#include "cellvae/analysis/classifier.hpp"
#include "cellvae/analysis/roc_auc.hpp"

namespace cellvae::analysis {
namespace {

using cellvae::testing::analysis_reference;
using cellvae::testing::ints;

torch::Tensor tensor_of(const nlohmann::json& j) {
  const auto m = cellvae::testing::matrix(j);
  return torch::tensor(m.values, torch::kFloat64).view({m.rows, m.cols});
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a - b).abs().max().item<double>();
}

TEST(NearestNeighbors, MatchesSklearnBruteForce) {
  const auto& k = analysis_reference()["knn"];
  auto ref = tensor_of(k["reference"]);
  NeighborOptions o;
  o.k = k["k"].get<std::int64_t>();
  auto r = nearest_neighbors(ref, tensor_of(k["query"]), o);
  EXPECT_LE(max_abs_diff(r.distances, tensor_of(k["distances"])), 1e-10);
  EXPECT_TRUE(torch::equal(r.indices, tensor_of(k["indices"]).to(torch::kLong)));
  o.exclude_self = true;
  auto s = nearest_neighbors(ref, ref, o);
  EXPECT_LE(max_abs_diff(s.distances, tensor_of(k["self_distances"])), 1e-10);
  EXPECT_TRUE(torch::equal(s.indices, tensor_of(k["self_indices"]).to(torch::kLong)));
  // Blocks of queries give the same answer.
  o.block_size = 7;
  EXPECT_TRUE(torch::equal(nearest_neighbors(ref, ref, o).indices, s.indices));
}

TEST(KnnClassifier, MatchesSklearnPredictProba) {
  const auto& k = analysis_reference()["knn"];
  KnnClassifierOptions o;
  o.k = k["k"].get<std::int64_t>();
  auto p =
      knn_predict_proba(tensor_of(k["reference"]), ints(k["labels"]), 3, tensor_of(k["query"]), o);
  EXPECT_LE(max_abs_diff(p, tensor_of(k["proba"])), 1e-12);
}

TEST(LogisticRegression, MatchesSklearnBinaryAndMultinomial) {
  for (const auto& c : analysis_reference()["logistic"]) {
    SCOPED_TRACE("classes " + std::to_string(c["n_classes"].get<int>()));
    LogisticRegressionOptions o;
    o.C = c["C"].get<double>();
    const auto m =
        fit_logistic_regression(tensor_of(c["x"]), ints(c["y"]), c["n_classes"].get<int>(), o);
    EXPECT_TRUE(m.converged);
    EXPECT_LE(max_abs_diff(m.weights, tensor_of(c["coef"])), 1e-6);
    EXPECT_LE(max_abs_diff(m.intercept, torch::tensor(c["intercept"].get<std::vector<double>>(),
                                                      torch::kFloat64)),
              1e-6);
    // sklearn's newton-cg stops at a gradient of ~1e-9; ours goes to rounding.
    EXPECT_LE(max_abs_diff(predict_proba(m, tensor_of(c["test"])), tensor_of(c["proba"])), 1e-7);
  }
}

TEST(LogisticRegression, AbsentAndSingleClasses) {
  auto x = torch::tensor({0.0, 1.0, 2.0, 3.0}, torch::kFloat64).view({4, 1});
  // Classes 0 and 2 of 3: class 1 gets probability 0.
  auto p = predict_proba(fit_logistic_regression(x, {0, 0, 2, 2}, 3), x);
  EXPECT_EQ(p.select(1, 1).abs().sum().item<double>(), 0.0);
  EXPECT_NEAR(p.sum(1).sub(1).abs().max().item<double>(), 0.0, 1e-12);
  auto q = predict_proba(fit_logistic_regression(x, {1, 1, 1, 1}, 2), x);
  EXPECT_EQ(q.select(1, 1).min().item<double>(), 1.0);
}

TEST(RandomForest, CrossValidatedAucLikeSklearn) {
  const auto& f = analysis_reference()["forest"];
  auto x = tensor_of(f["x"]);
  const auto y = ints(f["y"]);
  CrossValidationOptions cv;
  cv.seed = 3;
  ClassifierOptions forest;
  forest.kind = Classifier::random_forest;
  forest.forest.seed = 11;
  forest.forest.threads = 2;
  auto p = cross_validated_proba(x, y, 2, forest, cv).select(1, 1).contiguous();
  const double auc_forest =
      roc_auc(std::vector<double>(p.data_ptr<double>(), p.data_ptr<double>() + p.numel()), y);
  // sklearn's mean over 5 seeds; both vary by about its sd from seed to seed.
  const double ref = f["forest_auc_mean"].get<double>();
  const double tol = std::max(0.03, 4 * f["forest_auc_sd"].get<double>());
  EXPECT_NEAR(auc_forest, ref, tol);
  ClassifierOptions knn;
  knn.kind = Classifier::knn;
  knn.knn.k = 15;
  auto q = cross_validated_proba(x, y, 2, knn, cv).select(1, 1).contiguous();
  const double auc_knn =
      roc_auc(std::vector<double>(q.data_ptr<double>(), q.data_ptr<double>() + q.numel()), y);
  EXPECT_NEAR(auc_knn, f["knn_auc_mean"].get<double>(),
              std::max(0.03, 4 * f["knn_auc_sd"].get<double>()));
}

TEST(RandomForest, FitsTrainingDataAndIsReproducible) {
  const auto& f = analysis_reference()["forest"];
  auto x = tensor_of(f["x"]);
  const auto y = ints(f["y"]);
  RandomForestOptions o;
  o.n_trees = 20;
  o.bootstrap = false;  // every tree sees every row: pure leaves reproduce the labels
  auto p = predict_proba(fit_random_forest(x, y, 2, o), x);
  auto predicted = p.argmax(1);
  EXPECT_TRUE(
      torch::equal(predicted, torch::tensor(std::vector<std::int64_t>(y.begin(), y.end()))));

  o.bootstrap = true;
  o.threads = 1;
  auto one = predict_proba(fit_random_forest(x, y, 2, o), x);
  o.threads = 3;
  auto three = predict_proba(fit_random_forest(x, y, 2, o), x);
  EXPECT_TRUE(torch::equal(one, three));  // threads do not change the result
  o.seed = 1;
  EXPECT_FALSE(torch::equal(one, predict_proba(fit_random_forest(x, y, 2, o), x)));
  // Depth limit: a stump has at most 3 nodes.
  o.max_depth = 1;
  for (const auto& tree : fit_random_forest(x, y, 2, o).trees) EXPECT_LE(tree.nodes.size(), 3u);
}

TEST(RandomForest, ConstantFeaturesAreSkipped) {
  // Only feature 3 of 4 varies; max_features 1 must still find it.
  auto x = torch::zeros({40, 4}, torch::kFloat64);
  std::vector<std::int32_t> y(40);
  for (int i = 0; i < 40; ++i) {
    x[i][3] = i;
    y[i] = i >= 20;
  }
  RandomForestOptions o;
  o.n_trees = 5;
  o.max_features = 1;
  o.bootstrap = false;
  auto p = predict_proba(fit_random_forest(x, y, 2, o), x);
  EXPECT_TRUE(
      torch::equal(p.argmax(1), torch::tensor(std::vector<std::int64_t>(y.begin(), y.end()))));
}

TEST(CrossValidation, StratifiedFoldsAreBalancedAndSeeded) {
  std::vector<std::int32_t> y;
  for (int i = 0; i < 103; ++i) y.push_back(i < 23 ? 0 : (i < 80 ? 1 : 2));
  CrossValidationOptions o;
  o.n_folds = 5;
  const auto folds = stratified_folds(y, 3, o);
  std::vector<int> size(5, 0), class_count(15, 0);
  for (std::size_t i = 0; i < y.size(); ++i) {
    ++size[folds[i]];
    ++class_count[y[i] * 5 + folds[i]];
  }
  EXPECT_LE(
      *std::max_element(size.begin(), size.end()) - *std::min_element(size.begin(), size.end()), 1);
  for (int c = 0; c < 3; ++c) {
    auto b = class_count.begin() + c * 5;
    EXPECT_LE(*std::max_element(b, b + 5) - *std::min_element(b, b + 5), 1);
  }
  EXPECT_EQ(stratified_folds(y, 3, o), folds);
  o.seed = 1;
  EXPECT_NE(stratified_folds(y, 3, o), folds);
  o.n_folds = 1;
  EXPECT_THROW(stratified_folds(y, 3, o), std::invalid_argument);
}

TEST(CrossValidation, ProbabilitiesForEveryRow) {
  auto x = torch::randn({60, 3}, torch::kFloat64);
  std::vector<std::int32_t> y(60);
  for (int i = 0; i < 60; ++i) y[i] = i % 3;
  for (auto kind : {Classifier::knn, Classifier::logistic, Classifier::random_forest}) {
    ClassifierOptions c;
    c.kind = kind;
    c.forest.n_trees = 10;
    auto p = cross_validated_proba(x, y, 3, c);
    EXPECT_NEAR((p.sum(1) - 1).abs().max().item<double>(), 0.0, 1e-12) << to_string(kind);
  }
}

}  // namespace
}  // namespace cellvae::analysis
