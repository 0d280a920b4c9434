// The VAExprs input transform as one fitted object: log-normalize counts with size factors
// centred on the training cells, then min-max scale each gene to the training range.
#pragma once

#include <cstdint>
#include <vector>

#include "cellvae/csr_matrix.hpp"
#include "cellvae/preprocess/scaling.hpp"

namespace cellvae {

/// Everything needed to transform counts of any cell the way the training cells were, and to
/// undo the transform for generated cells.
struct InputTransform {
  /// Mean library size of the training cells (over the model's genes): a cell's size factor
  /// is its library / reference_library. VAExprs centres over all cells (training and
  /// validation); using training cells only keeps validation data out of the fit.
  double reference_library = 0;
  /// Min-max of log-normalized values over the training cells.
  MinMaxScaler min_max;
};

/// Fits the transform on `train_rows` of a cells x genes counts matrix. Throws InputError
/// when train_rows is empty or out of range, a training cell has library size 0, or a value
/// is negative or not finite.
InputTransform fit_input_transform(const CsrMatrix& counts,
                                   const std::vector<std::int64_t>& train_rows);

/// Transforms `rows` of a counts matrix (same genes as the fit) to a dense row-major
/// rows.size() x n_genes array: min_max(log2(count / (library / reference_library) + 1)).
/// Values outside the training range are not clipped unless options.clip (see
/// MinMaxTransformOptions). Throws InputError for a gene-count mismatch, rows out of range,
/// or a cell with library size 0.
std::vector<float> apply_input_transform(const InputTransform& transform, const CsrMatrix& counts,
                                         const std::vector<std::int64_t>& rows,
                                         const MinMaxTransformOptions& options = {});

/// Options of invert_input_transform.
struct InvertTransformOptions {
  /// Also undo the log-normalization, giving count-scale values for a cell of size factor
  /// `size_factor` ((2^y - 1) * size_factor, negatives set to 0). Default false: return
  /// log-normalized values, as VAExprs's gen_exprs does.
  bool to_counts = false;
  /// Size factor of the generated cells when to_counts; 1 = the reference library. > 0.
  double size_factor = 1.0;
};

/// Undoes the min-max scaling (and optionally the log-normalization) of a dense row-major
/// n x n_genes array, e.g. decoder outputs of generated cells.
std::vector<float> invert_input_transform(const InputTransform& transform,
                                          const std::vector<float>& scaled,
                                          const InvertTransformOptions& options = {});

}  // namespace cellvae
