// Quality filters on cells and genes: the first step of preprocessing.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "cellvae/csr_matrix.hpp"

namespace cellvae {

/// Thresholds for dropping cells and genes from a counts matrix (cells x genes).
///
/// Cells are judged first, on all genes (their quality metrics describe the cell as it was
/// sequenced). Genes are then judged on the cells that were kept, so that a gene seen only in
/// discarded cells does not survive. The filters are applied once, not iterated to a fixed
/// point (as scanpy's filter_cells/filter_genes and Seurat's min.cells/min.features).
/// A "detected" gene or an "expressing" cell means a nonzero count.
struct FilterOptions {
  /// Keep genes detected in at least this many kept cells. Default 1 drops genes that are
  /// never observed (what VAExprs does with rowMeans > 0): they carry no information and a
  /// model would have to learn to output zeros for them. 0 keeps every gene. Range >= 0.
  std::int64_t min_cells_per_gene = 1;
  /// Keep cells with at least this many detected genes. Default 0 (no filter). Range >= 0.
  std::int64_t min_genes_per_cell = 0;
  /// Keep cells whose total count (library size) is at least this. Default 1 drops empty
  /// cells, which have no size factor (log-normalization divides by the library size).
  /// Range >= 0, finite.
  double min_counts_per_cell = 1;
  /// Keep cells whose total count is at most this (drops likely doublets). Empty: no upper
  /// limit. Must be >= min_counts_per_cell when set.
  std::optional<double> max_counts_per_cell;
};

/// What the filters kept and removed.
struct FilterResult {
  std::vector<std::int64_t> kept_cells;  ///< row indices of kept cells, increasing
  std::vector<std::int64_t> kept_genes;  ///< column indices of kept genes, increasing
  std::int64_t n_cells_removed = 0;      ///< cells dropped by any cell criterion
  std::int64_t n_genes_removed = 0;      ///< genes dropped by min_cells_per_gene
  /// Cells failing each criterion on its own (a cell can fail several, so these may add up
  /// to more than n_cells_removed).
  std::int64_t n_cells_below_min_genes = 0;
  std::int64_t n_cells_below_min_counts = 0;
  std::int64_t n_cells_above_max_counts = 0;
};

/// Applies the filters to a cells x genes counts matrix.
///
/// Throws InputError for invalid options (naming the field) and when no cell or no gene is
/// left; the message names the option responsible and how many cells or genes it removed,
/// e.g. "no cells left after filtering: min_genes_per_cell = 500 removed 180 of 180 cells".
FilterResult filter_cells_and_genes(const CsrMatrix& counts, const FilterOptions& options = {});

}  // namespace cellvae
