// Shared by the analysis tests: the reference values from tests/reference/
// make_analysis_reference.py, and small data sets built in memory.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cellvae/csr_matrix.hpp"
#include "cellvae/data_frame.hpp"
#include "cellvae/dataset.hpp"
#include "test_support.hpp"

namespace cellvae::testing {

/// tests/data/analysis/reference.json, parsed once.
inline const nlohmann::json& analysis_reference() {
  static const nlohmann::json ref = [] {
    std::ifstream in(fixture("analysis/reference.json"));
    return nlohmann::json::parse(in);
  }();
  return ref;
}

inline std::vector<double> doubles(const nlohmann::json& j) { return j.get<std::vector<double>>(); }

inline std::vector<std::int32_t> ints(const nlohmann::json& j) {
  return j.get<std::vector<std::int32_t>>();
}

/// Row-major values and the shape of a JSON matrix (list of rows).
struct Matrix {
  std::int64_t rows = 0, cols = 0;
  std::vector<double> values;
};

inline Matrix matrix(const nlohmann::json& j) {
  Matrix m;
  m.rows = static_cast<std::int64_t>(j.size());
  m.cols = m.rows ? static_cast<std::int64_t>(j[0].size()) : 0;
  for (const auto& row : j)
    for (const auto& v : row) m.values.push_back(v.get<double>());
  return m;
}

/// A data set with the given cells x genes counts, cells named <prefix>0.., genes g0.. (or
/// `genes`), and optional categorical obs columns.
inline Dataset make_dataset(const std::vector<float>& dense, std::int64_t n_cells,
                            std::int64_t n_genes, const std::string& prefix = "c",
                            std::vector<std::string> genes = {}) {
  Dataset ds;
  ds.X = csr_from_dense(dense.data(), n_cells, n_genes);
  for (std::int64_t i = 0; i < n_cells; ++i) ds.obs.index.push_back(prefix + std::to_string(i));
  if (genes.empty())
    for (std::int64_t g = 0; g < n_genes; ++g) genes.push_back("g" + std::to_string(g));
  ds.var.index = std::move(genes);
  return ds;
}

inline Dataset dataset_from_json(const nlohmann::json& rows, const std::string& prefix) {
  const Matrix m = matrix(rows);
  std::vector<float> dense(m.values.begin(), m.values.end());
  return make_dataset(dense, m.rows, m.cols, prefix);
}

}  // namespace cellvae::testing
