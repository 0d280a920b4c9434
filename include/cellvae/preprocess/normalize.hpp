// Library sizes, size factors and log-normalization (scater's librarySizeFactors and
// logNormCounts, the input transform VAExprs uses before min-max scaling).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "cellvae/csr_matrix.hpp"
#include "cellvae/dataset.hpp"

namespace cellvae {

/// Options of library_size_factors.
struct SizeFactorOptions {
  /// The library size that gets size factor 1: size factor = library / reference_library.
  /// Empty: the mean library size of the cells given, so that the size factors average 1
  /// (scater's centring). Set it to PreprocessState's training-cell mean to normalise new
  /// cells exactly as the training cells were. Range: finite, > 0.
  std::optional<double> reference_library;
};

struct SizeFactorResult {
  std::vector<double> library_sizes;  ///< per cell: total count over the matrix's genes
  std::vector<double> size_factors;   ///< per cell: library_sizes / reference_library
  double reference_library = 0;       ///< the value used (resolved when the option was empty)
};

/// Library sizes and size factors of a cells x genes counts matrix.
/// Throws InputError when a value is negative, NaN or infinite (naming cell and gene), when a
/// cell has library size 0 (naming the cell: it has no size factor; filter empty cells first,
/// FilterOptions::min_counts_per_cell), or when the matrix has no cells.
SizeFactorResult library_size_factors(const CsrMatrix& counts,
                                      const SizeFactorOptions& options = {});

/// As above, naming cells by their obs names in errors.
SizeFactorResult library_size_factors(const Dataset& data, const SizeFactorOptions& options = {});

/// Mean library size over the given rows (e.g. the training cells): the reference library
/// for SizeFactorOptions. Throws InputError when rows is empty, an index is out of range, or
/// the mean is 0.
double mean_library_size(const CsrMatrix& counts, const std::vector<std::int64_t>& rows);

/// log2(count / size_factor + 1) for every entry (scater's logNormCounts with the default
/// pseudo-count 1 and base 2), so zeros stay zeros and the result keeps the sparsity pattern.
/// Computed in double and stored as float. size_factors: one finite value > 0 per row
/// (InputError otherwise).
CsrMatrix log_normalize(const CsrMatrix& counts, const std::vector<double>& size_factors);

/// Options of log_norm_counts.
struct LogNormOptions {
  SizeFactorOptions size_factors;  ///< how size factors are centred
};

struct LogNormResult {
  CsrMatrix values;               ///< log-normalized matrix, same shape and pattern as counts
  SizeFactorResult size_factors;  ///< the size factors used
};

/// library_size_factors then log_normalize, in one call.
LogNormResult log_norm_counts(const CsrMatrix& counts, const LogNormOptions& options = {});
/// As above, naming cells by their obs names in errors.
LogNormResult log_norm_counts(const Dataset& data, const LogNormOptions& options = {});

/// Undoes log_normalize for values of cells with the given size factor: count-scale values
/// (2^y - 1) * size_factor. Generated cells have no library of their own, so size_factor 1
/// (a cell of the reference library size) is the natural default. Negative results (from
/// y < 0, which generated values can reach) are returned as 0.
std::vector<float> inverse_log_normalize(const std::vector<float>& log_values,
                                         double size_factor = 1.0);

}  // namespace cellvae
