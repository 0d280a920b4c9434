// Shared by the clustering tests: the scikit-learn reference values of
// tests/reference/make_cluster_reference.py and JSON -> tensor helpers.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "test_support.hpp"

namespace cellvae::testing {

/// tests/data/cluster/reference.json, parsed once.
inline const nlohmann::json& cluster_reference() {
  static const nlohmann::json ref = [] {
    std::ifstream in(fixture("cluster/reference.json"));
    return nlohmann::json::parse(in);
  }();
  return ref;
}

/// A JSON number or nested list of numbers as a float64 tensor of the same shape.
inline torch::Tensor json_tensor(const nlohmann::json& j) {
  std::vector<std::int64_t> shape;
  const nlohmann::json* level = &j;
  while (level->is_array()) {
    shape.push_back(static_cast<std::int64_t>(level->size()));
    if (level->empty()) break;
    level = &(*level)[0];
  }
  std::vector<double> values;
  auto flatten = [&](const nlohmann::json& v, auto& self) -> void {
    if (v.is_array()) {
      for (const auto& e : v) self(e, self);
    } else {
      values.push_back(v.get<double>());
    }
  };
  flatten(j, flatten);
  return torch::tensor(values, torch::kFloat64).view(shape).clone();
}

inline std::vector<std::int32_t> json_labels(const nlohmann::json& j) {
  return j.get<std::vector<std::int32_t>>();
}

/// The data set `name` of the reference ("blobs2", "blobs4", "overlap3").
inline torch::Tensor reference_data(const std::string& name) {
  return json_tensor(cluster_reference()["data"][name]["x"]);
}

inline std::vector<std::int32_t> reference_truth(const std::string& name) {
  return json_labels(cluster_reference()["data"][name]["labels"]);
}

/// max |a - b| / (|b| + floor) over the entries: a relative difference that does not blow up
/// for entries near 0.
inline double max_relative_diff(const torch::Tensor& a, const torch::Tensor& b,
                                double floor = 1.0) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes()) return 1e300;
  return ((a - b).abs() / (b.abs() + floor)).max().item<double>();
}

}  // namespace cellvae::testing
