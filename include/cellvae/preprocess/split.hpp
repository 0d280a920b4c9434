// Train/validation split of cells, optionally stratified by a categorical annotation.
#pragma once

#include <cstdint>
#include <vector>

namespace cellvae {

/// Options of split_cells.
struct SplitOptions {
  /// Fraction of cells held out for validation (early stopping, validation loss). Range
  /// [0, 1). Default 0.1. 0 puts every cell in training.
  double validation_fraction = 0.1;
  /// Seed of the shuffle (cellvae::Rng): the same seed, cells and strata give the same split
  /// on every platform.
  std::uint64_t seed = 0;
  /// Per-cell stratum codes (>= 0, e.g. label or batch codes), or empty for one stratum. Each
  /// stratum is split on its own so that its share of the validation set matches its share
  /// of the cells (up to rounding).
  std::vector<std::int32_t> strata;
};

struct SplitResult {
  std::vector<std::int64_t> train;       ///< cell indices, increasing
  std::vector<std::int64_t> validation;  ///< cell indices, increasing
};

/// Splits cells 0..n_cells-1 into training and validation sets.
///
/// Per stratum (in increasing code order, one Rng stream for all), with n cells: shuffle them
/// and put the first k = round(validation_fraction * n) (halves away from zero) in validation,
/// but at most n - 1, so every stratum keeps at least one training cell: a stratum with one
/// cell stays in training, and a label never appears in validation only (a CVAE could not
/// learn it). The total validation size can therefore differ from
/// round(validation_fraction * n_cells) by up to the number of strata.
/// Throws InputError when n_cells <= 0, validation_fraction is outside [0, 1) or not finite,
/// or strata is non-empty with a size other than n_cells or a negative code (naming the row).
SplitResult split_cells(std::int64_t n_cells, const SplitOptions& options = {});

}  // namespace cellvae
