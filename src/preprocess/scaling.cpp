#include "cellvae/preprocess/scaling.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "cellvae/error.hpp"

namespace cellvae {
namespace {

void check_row(const CsrMatrix& m, std::int64_t r, const char* what) {
  if (r < 0 || r >= m.n_rows)
    throw InputError(std::string(what) + ": row index " + std::to_string(r) +
                     " out of range (matrix has " + std::to_string(m.n_rows) + " rows)");
}

}  // namespace

MinMaxScaler MinMaxScaler::fit(const CsrMatrix& values, const std::vector<std::int64_t>& rows) {
  if (rows.empty()) throw InputError("min-max scaling: no training cells to fit on");
  const std::size_t G = static_cast<std::size_t>(values.n_cols);
  // Implicit zeros count: a gene with a zero in any training row has min <= 0 (max >= 0).
  std::vector<std::int64_t> stored(G, 0);
  std::vector<double> lo(G, std::numeric_limits<double>::infinity()),
      hi(G, -std::numeric_limits<double>::infinity());
  for (std::int64_t r : rows) {
    check_row(values, r, "min-max scaling");
    for (std::int64_t k = values.indptr[r]; k < values.indptr[r + 1]; ++k) {
      const double v = values.data[k];
      if (!std::isfinite(v))
        throw InputError("min-max scaling: value at row " + std::to_string(r) + ", gene " +
                         std::to_string(values.indices[k]) + " is not finite");
      const std::size_t g = static_cast<std::size_t>(values.indices[k]);
      ++stored[g];
      lo[g] = std::min(lo[g], v);
      hi[g] = std::max(hi[g], v);
    }
  }
  MinMaxScaler s;
  s.min.resize(G);
  s.max.resize(G);
  const std::int64_t n = static_cast<std::int64_t>(rows.size());
  for (std::size_t g = 0; g < G; ++g) {
    // Rows can repeat in `rows`, so "every row stores the gene" is stored >= n.
    if (stored[g] < n) {
      lo[g] = std::min(lo[g], 0.0);
      hi[g] = std::max(hi[g], 0.0);
    }
    s.min[g] = static_cast<float>(lo[g]);
    s.max[g] = static_cast<float>(hi[g]);
  }
  return s;
}

std::vector<float> MinMaxScaler::transform(const CsrMatrix& values,
                                           const std::vector<std::int64_t>& rows,
                                           const MinMaxTransformOptions& options) const {
  const std::size_t G = min.size();
  if (values.n_cols != n_genes() || max.size() != G)
    throw InputError("min-max scaling: the matrix has " + std::to_string(values.n_cols) +
                     " genes but the scaler was fitted on " + std::to_string(n_genes()));
  // Precompute 1 / range; constant genes get scale 0, so every value maps to 0.
  std::vector<double> scale(G), offset(G);
  for (std::size_t g = 0; g < G; ++g) {
    const double range = static_cast<double>(max[g]) - static_cast<double>(min[g]);
    scale[g] = range > 0 ? 1.0 / range : 0.0;
    offset[g] = min[g];
  }
  auto finish = [&](double z) {
    if (options.clip) z = std::clamp(z, 0.0, 1.0);
    return static_cast<float>(z);
  };
  std::vector<float> out(rows.size() * G);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::int64_t r = rows[i];
    check_row(values, r, "min-max scaling");
    float* row = out.data() + i * G;
    for (std::size_t g = 0; g < G; ++g) row[g] = finish((0.0 - offset[g]) * scale[g]);
    for (std::int64_t k = values.indptr[r]; k < values.indptr[r + 1]; ++k) {
      const std::size_t g = static_cast<std::size_t>(values.indices[k]);
      row[g] = finish((static_cast<double>(values.data[k]) - offset[g]) * scale[g]);
    }
  }
  return out;
}

std::vector<float> MinMaxScaler::transform_all(const CsrMatrix& values,
                                               const MinMaxTransformOptions& options) const {
  std::vector<std::int64_t> rows(static_cast<std::size_t>(values.n_rows));
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<std::int64_t>(i);
  return transform(values, rows, options);
}

std::vector<float> MinMaxScaler::inverse_transform(const std::vector<float>& scaled) const {
  const std::size_t G = min.size();
  if (G == 0 || scaled.size() % G != 0)
    throw InputError("min-max de-scaling: " + std::to_string(scaled.size()) +
                     " values are not a whole number of cells of " + std::to_string(G) + " genes");
  std::vector<float> out(scaled.size());
  for (std::size_t i = 0; i < scaled.size(); ++i) {
    const std::size_t g = i % G;
    const double range = static_cast<double>(max[g]) - static_cast<double>(min[g]);
    out[i] = static_cast<float>(static_cast<double>(scaled[i]) * range + min[g]);
  }
  return out;
}

void MinMaxScaler::validate() const {
  if (min.size() != max.size())
    throw InputError("min-max scaler: min has " + std::to_string(min.size()) +
                     " values but max has " + std::to_string(max.size()));
  for (std::size_t g = 0; g < min.size(); ++g)
    if (!std::isfinite(min[g]) || !std::isfinite(max[g]) || min[g] > max[g])
      throw InputError("min-max scaler: gene " + std::to_string(g) + " has min " +
                       std::to_string(min[g]) + " and max " + std::to_string(max[g]) +
                       "; both must be finite with min <= max");
}

}  // namespace cellvae
