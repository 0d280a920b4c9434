// Highly variable genes from raw counts: the Seurat v3 variance-stabilising method
// (Stuart et al. 2019; scanpy's highly_variable_genes(flavor = "seurat_v3")).
#pragma once

#include <cstdint>
#include <vector>

#include "cellvae/csr_matrix.hpp"

namespace cellvae {

/// Options of highly_variable_genes.
struct HvgOptions {
  /// How many genes to select. When larger than the number of genes, every gene is selected
  /// (the resolved count is HvgResult::n_top_genes). Range >= 1. Default 2000 (Seurat, scanpy).
  std::int64_t n_top_genes = 2000;
  /// Loess span of the mean-variance trend; range (0, 1]. Default 0.3 (Seurat, scanpy).
  double span = 0.3;
  /// Per-cell batch codes (>= 0, one per cell), or empty for one batch. With batches, the
  /// method runs within each batch that has cells and genes are ranked across batches (see
  /// highly_variable_genes). Codes need not be contiguous; codes without cells are ignored.
  std::vector<std::int32_t> batch_codes;
};

/// The per-batch quantities behind the selection.
struct HvgBatchDetail {
  std::int32_t code = 0;  ///< the batch code (0 when no batches were given)
  std::int64_t n_cells = 0;
  std::vector<double> means;      ///< per gene, counts
  std::vector<double> variances;  ///< per gene, ddof = 1
  /// Loess fit of log10(variance) on log10(mean); NaN for genes constant in this batch.
  std::vector<double> log10_expected_variance;
  /// Variance of the clipped standardized counts; 0 for genes constant in this batch.
  std::vector<double> variances_norm;
  /// 0 = most variable; ties (e.g. constant genes) in gene order.
  std::vector<std::int64_t> rank;
};

struct HvgResult {
  /// Selected genes, as column indices in increasing (original) order.
  std::vector<std::int64_t> selected;
  /// Every gene in selection priority order: selected = the first n_top_genes, sorted.
  std::vector<std::int64_t> order;
  std::vector<double> means;           ///< per gene, over all cells
  std::vector<double> variances;       ///< per gene, over all cells, ddof = 1
  std::vector<double> variances_norm;  ///< per gene, mean over batches of the normalized variance
  /// Median over batches of the gene's rank, counting only batches where it is in the top
  /// n_top_genes; NaN when it is in none (scanpy's highly_variable_rank).
  std::vector<double> rank;
  /// In how many batches the gene is in the top n_top_genes (highly_variable_nbatches).
  std::vector<std::int32_t> n_batches;
  std::int64_t n_top_genes = 0;         ///< resolved: min(options.n_top_genes, number of genes)
  std::vector<HvgBatchDetail> batches;  ///< one per batch with cells, in increasing code order
};

/// Selects highly variable genes from a cells x genes matrix of raw counts.
///
/// Within each batch (all cells when there are no batches):
///  1. mean m and variance v (ddof = 1) of each gene's counts;
///  2. loess (degree 2, options.span, see loess_fit) of log10(v) on log10(m) over the genes with
///     v > 0; expected standard deviation s = sqrt(10^fit);
///  3. standardized counts z = (x - m) / s, clipped above at sqrt(n_cells of the batch) (as
///     Seurat and scanpy: large counts are capped, nothing is clipped below);
///  4. normalized variance = sum over all the batch's cells of z^2 / (n_cells - 1), computed
///     sparsely (each zero contributes (m / s)^2); 0 for genes constant in the batch;
///  5. genes ranked by normalized variance, highest first.
/// Genes are then ordered by the number of batches in which they rank in the top n_top_genes
/// (more first), then by their median rank in those batches (lower first; genes in no top
/// list last), then by gene index, and the first n_top_genes are selected — scanpy's order
/// (highly_variable_nbatches descending, highly_variable_rank ascending, stable).
///
/// Requirements (InputError otherwise): values finite and >= 0 (counts, not normalized data:
/// the variance model is for counts); batch_codes empty or one code >= 0 per cell; every batch
/// with cells has at least 2 (a variance needs two); each batch has enough non-constant genes
/// for the loess (floor(span * n) >= 3).
/// Differences from scanpy: the loess is evaluated directly rather than interpolated (see
/// loess_fit), and variances are computed in two passes rather than as E[x^2] - E[x]^2, so
/// normalized variances are close to scanpy's but not identical, and genes near the cut can
/// differ. Ties (equal normalized variances) are ranked by gene index, where numpy's default
/// argsort leaves their order unspecified. Against an independent numpy implementation of
/// this exact definition the values agree to ~1e-14 (tests/preprocess/test_reference.cpp).
/// Memory: a few doubles per (batch, gene); time: three passes over the nonzeros plus one
/// loess per batch.
HvgResult highly_variable_genes(const CsrMatrix& counts, const HvgOptions& options = {});

}  // namespace cellvae
