// The pictures cellvae draws (`cellvae plot ...`): each is a free function that builds a Figure
// from data already in memory; the caller saves it (Figure::save). Nothing here reads files,
// prints or exits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cellvae/dataset.hpp"
#include "cellvae/plot/figure.hpp"
#include "cellvae/train/history.hpp"

namespace cellvae::plot {

// ---- training history -----------------------------------------------------------------------

struct HistoryPlotOptions {
  std::string title = "Training history";  ///< figure title ("" for none)
};

/// Loss per epoch, one panel each for the total loss, the reconstruction error (-log p(x|z))
/// and KL(z), train (solid) and validation (dashed, when recorded) per panel, and the epoch
/// whose weights the model holds (history.best_epoch) as a dotted vertical line labelled
/// "best epoch N" (with "(early stop)" when training stopped early). Throws InputError when the
/// history has no epochs.
Figure history_figure(const train::History& history, const HistoryPlotOptions& options = {});

// ---- real vs generated quality control ------------------------------------------------------

struct QcPlotOptions {
  std::string title = "Real vs generated";
  std::string real_name = "real";            ///< legend label of the first data set
  std::string generated_name = "generated";  ///< and of the second
  int bins = 40;                             ///< histogram bins, >= 2
  /// Fewer shared genes than this is an InputError stating how many are shared.
  std::int64_t min_shared_genes = 2;
};

struct QcFigure {
  Figure figure;
  std::int64_t n_shared_genes = 0;
  /// Cells left out of the library-size histogram because their total is 0 (log axis), per
  /// data set; genes left out of the scatter plots for mean 0 (or variance 0), per data set.
  std::int64_t real_empty_cells = 0, generated_empty_cells = 0;
  std::int64_t real_dropped_genes = 0, generated_dropped_genes = 0;
};

/// Four panels, real and generated overlaid, all on the genes both share by name (in the real
/// data's order), from raw counts: the distribution of library sizes (total counts, log-spaced
/// bins on a log axis) and of per-cell zero fractions (fraction of cells per bin, so samples
/// of different sizes compare); per gene, variance against mean (log-log, with the Poisson
/// line variance = mean) and fraction of zero counts against mean (log x, with the Poisson
/// curve exp(-mean)). Variances use the n - 1 denominator. Throws InputError when fewer than
/// min_shared_genes genes are shared or a data set has no cells.
QcFigure qc_figure(const Dataset& real, const Dataset& generated,
                   const QcPlotOptions& options = {});

// ---- embeddings ------------------------------------------------------------------------------

enum class EmbeddingMethod { pca, umap, tsne };

/// "pca", "umap", "tsne".
std::string_view to_string(EmbeddingMethod method);
/// "PCA", "UMAP", "t-SNE": the name as titles and axis labels write it.
std::string_view display_name(EmbeddingMethod method);
/// Inverse of to_string; throws InputError listing the methods for anything else.
EmbeddingMethod parse_embedding_method(std::string_view name);

struct EmbeddingPlotOptions {
  EmbeddingMethod method = EmbeddingMethod::pca;
  /// obs column to colour by; "origin" (or empty) colours real vs generated. Categorical,
  /// string, boolean and integer columns with at most max_categories distinct values get a
  /// palette and a legend; numeric columns a colour ramp and a colour bar. The column must be
  /// in at least one data set (InputError naming it otherwise); cells of a data set without it
  /// are drawn grey as "missing".
  std::string color_by = "origin";
  std::int64_t max_categories = 40;
  /// obs column whose categories get marker shapes (marker_cycle order: circle, triangle,
  /// square, plus, ...), or "origin" for real vs generated; "" (default) draws every cell as
  /// a dot. VAExprs's plot_aug colours by origin and shapes by label: color_by = "origin",
  /// shape_by = the label column. Categorical, string, boolean and integer columns only (a
  /// column of floating-point numbers is an InputError); cells of a data set without the
  /// column get their own "missing" shape. More categories (missing included) than
  /// kMarkerCount is an InputError saying how many there are, rather than shapes repeating:
  /// a repeated shape would make two categories look like one. With shapes, the legend has two
  /// headed parts: the colours (under the colour column's name), then the shapes (in grey,
  /// under shape_by).
  std::string shape_by;
  /// Genes with the highest variance of the log-normalised values over the pooled cells
  /// (all genes when fewer); >= 2.
  std::int64_t n_top_genes = 2000;
  /// umap and tsne: the principal components they start from (the usual single-cell recipe;
  /// capped by the genes used and the cells - 1), >= 2.
  std::int64_t n_pcs = 50;
  double scale_factor = 1e4;  ///< log1p(scale_factor * count / cell total)
  /// The randomized PCA, UMAP's or t-SNE's own randomness, and the order points are drawn in.
  std::uint64_t seed = 0;
  std::string title;  ///< "" -> "PCA of real and generated cells" (or of cells; UMAP, t-SNE)
  std::string real_name = "real";
  std::string generated_name = "generated";
};

struct EmbeddingFigure {
  Figure figure;
  std::vector<double> x, y;  ///< the coordinates drawn (real cells first, then generated)
  /// pca: of the two components shown; umap/tsne: of the n_pcs components they started from.
  std::vector<double> explained_variance_ratio;
  std::int64_t n_genes_used = 0;                 ///< after the shared-gene and top-gene cuts
  std::vector<std::string> warnings;             ///< e.g. the colour column missing in one set
};

/// Real cells (and generated ones, when `generated` is given) in one embedding computed on
/// both together: shared genes by name, log1p(scale_factor * x / total) per cell (cells with
/// total 0 stay 0), the n_top_genes most variable genes, then analysis::run_pca (randomized,
/// seeded): pca shows the first two components, axes "PC1 (12.3% of variance)"; umap and tsne
/// (analysis::umap, analysis::tsne with their default options) run on the first n_pcs, axes
/// "UMAP1"/"t-SNE 1". Points are drawn in a seeded random
/// order so neither set hides the other. Throws InputError for a missing colour or shape
/// column, a shape column that is numeric or has too many categories, fewer than 2 shared
/// genes or fewer than 3 cells in all.
EmbeddingFigure embedding_figure(const Dataset& real, const Dataset* generated,
                                 const EmbeddingPlotOptions& options = {});

}  // namespace cellvae::plot
