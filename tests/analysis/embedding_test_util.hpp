// Shared by the embedding tests (t-SNE, UMAP, trustworthiness): the reference values of
// tests/reference/make_embedding_reference.py and the measures the tests compare by.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "cellvae/analysis/neighbors.hpp"
#include "cluster_test_util.hpp"
#include "test_support.hpp"

namespace cellvae::testing {

/// tests/data/analysis/embedding/reference.json, parsed once.
inline const nlohmann::json& embedding_reference() {
  static const nlohmann::json ref = [] {
    std::ifstream in(fixture("analysis/embedding/reference.json"));
    return nlohmann::json::parse(in);
  }();
  return ref;
}

/// The data set `name` of the reference ("blobs", "trajectory", "clusters") as float64.
inline torch::Tensor embedding_data(const std::string& name) {
  return json_tensor(embedding_reference()["data"][name]["x"]);
}

/// The true labels of the data set `name` of the reference.
inline std::vector<std::int32_t> embedding_labels(const std::string& name) {
  return embedding_reference()["data"][name]["labels"].get<std::vector<std::int32_t>>();
}

/// The mean of `key` over the reference's runs (a list of objects).
inline double mean_of(const nlohmann::json& runs, const char* key) {
  double s = 0;
  for (const auto& r : runs) s += r[key].get<double>();
  return s / static_cast<double>(runs.size());
}

/// The smallest `key` over the reference's runs.
inline double min_of(const nlohmann::json& runs, const char* key) {
  double m = std::numeric_limits<double>::infinity();
  for (const auto& r : runs) m = std::min(m, r[key].get<double>());
  return m;
}

/// Leave-one-out accuracy of a 10-nearest-neighbour vote for the true labels in the embedding
/// (ties to the lowest label), as the reference script computes it: do the clusters (or
/// branches) stay apart?
inline double knn_accuracy(const torch::Tensor& embedding, const std::vector<std::int32_t>& truth) {
  analysis::NeighborOptions no;
  no.k = 10;
  no.exclude_self = true;
  const auto nn = analysis::nearest_neighbors(embedding, embedding, no).indices.contiguous();
  const auto* p = nn.data_ptr<std::int64_t>();
  const auto classes = static_cast<std::size_t>(*std::max_element(truth.begin(), truth.end()) + 1);
  std::int64_t right = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    std::vector<int> votes(classes, 0);
    for (std::size_t t = 0; t < 10; ++t) ++votes[truth[static_cast<std::size_t>(p[i * 10 + t])]];
    right += std::max_element(votes.begin(), votes.end()) - votes.begin() == truth[i];
  }
  return static_cast<double>(right) / static_cast<double>(truth.size());
}

}  // namespace cellvae::testing
