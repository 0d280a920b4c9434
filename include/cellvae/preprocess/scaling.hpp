// Per-gene min-max scaling to [0, 1]: the last input transform of VAExprs (whose decoder ends
// in a sigmoid and whose loss is binary cross-entropy, so inputs must lie in [0, 1]).
#pragma once

#include <cstdint>
#include <vector>

#include "cellvae/csr_matrix.hpp"

namespace cellvae {

/// Options of MinMaxScaler::transform.
struct MinMaxTransformOptions {
  /// Clip results to [0, 1]. Default false: cells outside the training range (validation or
  /// new cells) map below 0 or above 1, which shows how far outside they are; clip when a
  /// consumer (e.g. binary cross-entropy) needs [0, 1].
  bool clip = false;
};

/// Per-gene minimum and maximum learned from training cells.
///
/// VAExprs fits min and max on the validation set separately from the training set, so the
/// two are scaled differently and validation data leak into the transform; here they are fit
/// on the training cells only and applied unchanged to every other cell.
struct MinMaxScaler {
  std::vector<float> min;  ///< per gene, over the training rows (implicit zeros included)
  std::vector<float> max;  ///< per gene, over the training rows (implicit zeros included)

  std::int64_t n_genes() const { return static_cast<std::int64_t>(min.size()); }

  /// Fits min and max per column over `rows` of a cells x genes matrix (typically
  /// log-normalized values). Throws InputError when rows is empty, a row is out of range, or a
  /// value is NaN or infinite.
  static MinMaxScaler fit(const CsrMatrix& values, const std::vector<std::int64_t>& rows);

  /// (x - min) / (max - min) for `rows` (in that order), as a dense row-major
  /// rows.size() x n_genes() array. Genes constant in training (max == min) map to 0 whatever
  /// their value, since there is no range to scale by and the training cells all sat at the
  /// bottom of it. Throws InputError when the column count differs from n_genes() or a row is
  /// out of range.
  std::vector<float> transform(const CsrMatrix& values, const std::vector<std::int64_t>& rows,
                               const MinMaxTransformOptions& options = {}) const;
  /// transform of every row (a separate name: an overload would make transform(m, {}) ambiguous).
  std::vector<float> transform_all(const CsrMatrix& values,
                                   const MinMaxTransformOptions& options = {}) const;

  /// De-scaling: s * (max - min) + min for a dense row-major array of n x n_genes() values
  /// (e.g. decoder outputs of generated cells). Constant genes come back as their training
  /// value. Throws InputError when the size is not a multiple of n_genes().
  std::vector<float> inverse_transform(const std::vector<float>& scaled) const;

  /// Throws InputError unless min and max have equal lengths and min <= max everywhere, all
  /// finite (for scalers read from files).
  void validate() const;
};

}  // namespace cellvae
