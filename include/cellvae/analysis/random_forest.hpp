// Random forest classifier (Breiman 2001): bagged CART trees with random feature subsets.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <torch/types.h>

namespace cellvae::analysis {

struct RandomForestOptions {
  int n_trees = 200;
  /// Features drawn (without replacement) at each split; floor(sqrt(d)) when empty
  /// (scikit-learn's "sqrt"). As in scikit-learn, when every feature drawn so far is constant
  /// in the node, drawing continues, so a node is split whenever any feature varies in it.
  std::optional<int> max_features;
  int min_samples_leaf = 1;      ///< distinct training rows each child must keep
  std::optional<int> max_depth;  ///< unlimited when empty: trees grow until leaves are pure
  bool bootstrap = true;         ///< each tree sees n rows drawn with replacement
  /// Tree t draws from cellvae::Rng seeded from (seed, t): results do not depend on `threads`.
  std::uint64_t seed = 0;
  int threads = 1;  ///< trees are grown on this many std::threads
};

/// One binary tree: node 0 is the root; a leaf has feature -1.
struct DecisionTree {
  struct Node {
    std::int32_t feature = -1;
    double threshold = 0;  ///< rows with x[feature] <= threshold go left
    std::int32_t left = -1;
    std::int32_t right = -1;
    std::int32_t value = -1;  ///< leaf: offset of its n_classes class fractions in `values`
  };
  std::vector<Node> nodes;
  std::vector<double> values;
};

struct RandomForestModel {
  std::int32_t n_classes = 0;
  std::int64_t n_features = 0;
  std::vector<DecisionTree> trees;
};

/// Grows the forest on rows of `x` (n x d) with class codes `y` in 0 .. n_classes-1. Splits
/// minimise the weighted Gini impurity of the children (bootstrap multiplicities are weights)
/// at midpoints between consecutive distinct values.
RandomForestModel fit_random_forest(const torch::Tensor& x, const std::vector<std::int32_t>& y,
                                    std::int32_t n_classes,
                                    const RandomForestOptions& options = {});

/// Class probabilities (m x n_classes, float64): the mean over trees of the class fractions
/// (bootstrap-weighted) in the leaf each row reaches.
torch::Tensor predict_proba(const RandomForestModel& model, const torch::Tensor& x);

}  // namespace cellvae::analysis
