#include "cellvae/preprocess/input_transform.hpp"

#include <cmath>
#include <string>

#include "cellvae/error.hpp"
#include "cellvae/preprocess/normalize.hpp"

namespace cellvae {
namespace {

// Log-normalized values of `rows` (in that order) as a CSR matrix with one row per entry.
CsrMatrix log_normalized_rows(const CsrMatrix& counts, const std::vector<std::int64_t>& rows,
                              double reference_library) {
  for (std::int64_t r : rows)
    if (r < 0 || r >= counts.n_rows)
      throw InputError("input transform: cell index " + std::to_string(r) +
                       " out of range (matrix has " + std::to_string(counts.n_rows) + " cells)");
  CsrMatrix sub = select_rows(counts, rows);
  SizeFactorOptions sfo;
  sfo.reference_library = reference_library;
  return log_normalize(sub, library_size_factors(sub, sfo).size_factors);
}

}  // namespace

InputTransform fit_input_transform(const CsrMatrix& counts,
                                   const std::vector<std::int64_t>& train_rows) {
  InputTransform t;
  t.reference_library = mean_library_size(counts, train_rows);
  CsrMatrix logn = log_normalized_rows(counts, train_rows, t.reference_library);
  std::vector<std::int64_t> all(static_cast<std::size_t>(logn.n_rows));
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::int64_t>(i);
  t.min_max = MinMaxScaler::fit(logn, all);
  return t;
}

std::vector<float> apply_input_transform(const InputTransform& transform, const CsrMatrix& counts,
                                         const std::vector<std::int64_t>& rows,
                                         const MinMaxTransformOptions& options) {
  if (counts.n_cols != transform.min_max.n_genes())
    throw InputError("input transform: the matrix has " + std::to_string(counts.n_cols) +
                     " genes but the transform was fitted on " +
                     std::to_string(transform.min_max.n_genes()));
  if (rows.empty()) return {};
  return transform.min_max.transform_all(
      log_normalized_rows(counts, rows, transform.reference_library), options);
}

std::vector<float> invert_input_transform(const InputTransform& transform,
                                          const std::vector<float>& scaled,
                                          const InvertTransformOptions& options) {
  std::vector<float> logn = transform.min_max.inverse_transform(scaled);
  if (!options.to_counts) return logn;
  return inverse_log_normalize(logn, options.size_factor);
}

}  // namespace cellvae
