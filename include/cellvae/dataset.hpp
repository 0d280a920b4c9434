// A single-cell data set in memory: counts plus annotations, as an AnnData object holds them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "cellvae/csr_matrix.hpp"
#include "cellvae/data_frame.hpp"

namespace cellvae {

/// A dense row-major float64 array with one row per cell (anndata obsm entries: embeddings).
struct DenseArray {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::vector<double> values;  ///< rows * cols, row-major
};

/// Unstructured metadata (anndata uns): scalars, strings and 1-D arrays.
using UnsValue = std::variant<std::string, double, std::int64_t, bool, std::vector<std::string>,
                              std::vector<double>, std::vector<std::int64_t>>;

/// Counts (X) with obs (cells) and var (genes) tables.
struct Dataset {
  CsrMatrix X;                              ///< cells x genes
  DataFrame obs;                            ///< one row per cell; index = cell names
  DataFrame var;                            ///< one row per gene; index = gene names
  std::map<std::string, DenseArray> obsm;   ///< per-cell arrays, e.g. "X_cellvae"
  std::map<std::string, UnsValue> uns;      ///< run metadata
  std::vector<std::string> layers;          ///< names of layers present in the source file
  std::string source;                       ///< the path it was read from ("" if made in memory)
  std::vector<std::string> warnings;        ///< things the reader fixed or skipped, for the CLI

  std::int64_t n_cells() const { return X.n_rows; }
  std::int64_t n_genes() const { return X.n_cols; }

  /// Checks that X is valid and obs/var/obsm sizes agree with its shape; throws InputError
  /// naming `source` and the mismatching element.
  void validate() const;
};

/// The cells `rows` and genes `cols` of a data set (obs/var/obsm subset alike).
Dataset subset(const Dataset& ds, const std::vector<std::int64_t>& rows,
               const std::vector<std::int64_t>& cols);

/// subset() of ds itself, for strictly ascending `rows` and `cols`, without a second copy of
/// the matrix (select_in_place). Throws InputError for an index out of range or not ascending,
/// before changing ds.
void subset_in_place(Dataset& ds, const std::vector<std::int64_t>& rows,
                     const std::vector<std::int64_t>& cols);

/// 0..n-1, for "all rows" / "all columns" in subset().
std::vector<std::int64_t> iota_indices(std::int64_t n);

/// Makes obs and var names unique (see make_names_unique), adding a warning when it did.
void make_dataset_names_unique(Dataset& ds);

}  // namespace cellvae
