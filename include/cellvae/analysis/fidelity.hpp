// How realistic are generated cells? Scores a generated count matrix against real cells
// (`cellvae evaluate`).
//
// Both matrices are restricted to their shared genes (by name, in the real data's order) and
// subsampled to at most `max_cells` cells each. Then:
//
// Marginals (after SimBench, Cao et al. 2021), each real vs generated:
//   per cell: library size (total count over the shared genes), fraction of zero genes, and the
//     joint (log1p library size, zero fraction); per gene: mean, variance and zero fraction of
//     the log-normalised counts, and the joint (mean, variance) and (mean, zero fraction)
//     relations; the distributions of cell-cell and gene-gene Pearson correlations over the
//     most variable genes. 1-D distributions are compared by the Kolmogorov-Smirnov statistic,
//     2-D relations by the energy coefficient (axes scaled by their pooled standard deviation);
//     per-gene vectors, paired by gene, also by Spearman correlation.
// Joint structure: PCA fitted on the pooled real and generated log-normalised values (as
//   ../shared/bench/fidelity.py does; each comparison fits its own); squared MMD (RBF kernel,
//   median-heuristic bandwidth, on all subsampled cells, where fidelity.py takes its first 500)
//   on the components; a classifier two-sample test: the ROC AUC of the out-of-fold
//   P(generated) of each classifier telling real from generated cells on the components, under
//   stratified k-fold cross-validation, pooled over the folds (0.5 = indistinguishable).
// Per label (label_key): the joint scores within each label (on the same components; NaN
//   where either side has fewer than min_cells_per_label cells of it), and the accuracy with which
//   a classifier trained on the real cells' components and labels assigns each generated cell its
//   own label (with the real cells' cross-validated accuracy beside it).
// Memorisation (train): training cells projected onto the same components; the median
//   distance from each generated cell to its nearest training cell over the same for the real
//   (held-out) cells.
// Control (control): the same comparison with a second real sample in place of the generated
//   cells: what "as good as real" looks like on this data.
//
// "Log-normalised" is log1p(count / library size * scale_factor); scale_factor = 10^4 (as
// ../shared/bench/fidelity.py, scanpy's normalize_total) or 10^6 (log-CPM proper).
// The library never prints: to_json and format_table render a result for the CLI.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cellvae/analysis/methods.hpp"
#include "cellvae/dataset.hpp"

namespace cellvae::analysis {

struct FidelityOptions {
  /// Cells drawn (without replacement) from each of real, generated and control; all cells when
  /// a data set has fewer. 10 to 5000 (the pairwise statistics hold max_cells^2 values).
  std::int64_t max_cells = 1000;
  /// Training cells drawn for the memorisation check (fidelity.py uses 4 x max_cells).
  std::int64_t max_train_cells = 4000;
  /// Principal components for the joint scores; clamped to (genes, pooled cells - 1).
  std::int64_t n_components = 50;
  PcaMethod pca_method = PcaMethod::randomized;
  double scale_factor = 1e4;  ///< normalisation total before log1p (see above)
  /// Most variable genes (by the real cells' log-normalised variance) whose cell-cell and
  /// gene-gene correlations are compared; 2 to 5000.
  std::int64_t n_correlation_genes = 500;
  /// Fewer shared genes than this is an error (InputError stating how many are shared).
  std::int64_t min_shared_genes = 10;
  /// Real-vs-generated classifiers whose cross-validated AUC is reported, in this order.
  std::vector<Classifier> classifiers = {Classifier::knn, Classifier::random_forest};
  std::int64_t n_neighbors = 15;  ///< knn classifier
  int n_trees = 200;              ///< random forest
  int n_folds = 5;                ///< stratified cross-validation folds
  /// obs column with cell labels (cell type, condition): enables the per-label scores.
  std::optional<std::string> label_key;
  /// The label column in the generated (and control) data; label_key when empty.
  std::optional<std::string> generated_label_key;
  /// Labels with fewer cells than this in either sample get no per-label scores.
  std::int64_t min_cells_per_label = 20;
  /// Assigns generated cells to labels (the label-transfer accuracy).
  Classifier label_classifier = Classifier::logistic;
  /// Accept non-integer values (normalised or mean expression) in every input. Negative and
  /// non-finite values are always errors.
  bool allow_non_integer = false;
  std::uint64_t seed = 0;  ///< every random choice (subsamples, PCA, folds, forests) follows it
  /// Random-forest threads. Tensor work runs on LibTorch's pool, which the caller sets up
  /// (the CLI gives it one thread: spinning OpenMP workers slow the forest threads down).
  int threads = 1;
};

/// Scores comparing one sample of cells with the real cells. Scores that cannot be computed
/// (too few cells, a constant vector) are NaN.
struct MarginalScores {
  // per cell, KS statistic (0 = same distribution, 1 = disjoint)
  double library_size_ks = 0;
  double zero_fraction_ks = 0;     ///< fraction of zero genes per cell
  double library_zero_energy = 0;  ///< energy coefficient of (log1p library size, zero fraction)
  // per gene, of log-normalised counts: KS between the distributions over genes, and Spearman
  // correlation (1 = same ordering of genes) of the vectors paired by gene
  double gene_mean_ks = 0;
  double gene_mean_spearman = 0;
  double gene_variance_ks = 0;
  double gene_variance_spearman = 0;
  double gene_zero_fraction_ks = 0;
  double gene_zero_fraction_spearman = 0;
  double mean_variance_energy = 0;  ///< energy coefficient of the genes' (mean, variance)
  double mean_zero_energy = 0;      ///< energy coefficient of the genes' (mean, zero fraction)
  /// KS between the distributions of Pearson correlations of all pairs of cells (over the
  /// correlation genes) within each sample; pairs with a constant cell are left out.
  double cell_correlation_ks = 0;
  /// KS between the distributions of Pearson correlations of all pairs of correlation genes.
  double gene_correlation_ks = 0;
  /// Spearman correlation of the gene-gene correlations, paired by gene pair.
  double gene_correlation_spearman = 0;
  // context
  double median_library_size_real = 0;
  double median_library_size_other = 0;
  double zero_fraction_real = 0;  ///< fraction of zero entries in the whole real matrix
  double zero_fraction_other = 0;
};

/// Cross-validated AUC of one real-vs-other classifier.
struct ClassifierAuc {
  Classifier classifier = Classifier::knn;
  double auc = 0;
};

struct JointScores {
  std::int64_t n_real = 0;
  std::int64_t n_other = 0;
  double mmd2 = 0;                 ///< squared MMD, RBF kernel (two_sample.hpp)
  double mmd_bandwidth = 0;        ///< median-heuristic bandwidth used
  std::vector<ClassifierAuc> auc;  ///< one per FidelityOptions::classifiers
};

struct LabelScores {
  std::string label;
  JointScores joint;  ///< NaN scores when either side has fewer than min_cells_per_label
};

struct LabelTransfer {
  Classifier classifier = Classifier::logistic;
  /// Fraction of the other sample's cells that the classifier, trained on all real cells,
  /// assigns to their own label (labels unknown to the real cells count as wrong).
  double accuracy = 0;
  /// The same classifier's cross-validated accuracy on the real cells: the ceiling to compare.
  double real_cv_accuracy = 0;
};

struct MemorisationScores {
  std::int64_t n_train = 0;          ///< training cells searched
  double median_distance_other = 0;  ///< median distance other cell -> nearest training cell
  double median_distance_real = 0;   ///< the same for the held-out real cells
  /// median_distance_other / median_distance_real: near 1 for a model that generalises, far
  /// below 1 for one that copies its training cells.
  double ratio = 0;
  /// Fraction of the other cells nearer to a training cell than the 5th percentile of the real
  /// cells' distances: about 0.05 without copying, towards 1 with it.
  double close_fraction = 0;
};

/// Real cells against one other sample (the generated cells, or the control).
struct Comparison {
  std::string name;  ///< "generated" or "control"
  std::int64_t n_real = 0;
  std::int64_t n_other = 0;
  std::int64_t n_components = 0;        ///< principal components used
  double explained_variance_ratio = 0;  ///< their share of the pooled log-normalised variance
  MarginalScores marginals;
  JointScores joint;
  std::vector<LabelScores> per_label;  ///< with label_key: labels of the real cells, in order
  std::optional<LabelTransfer> label_transfer;     ///< with label_key
  std::optional<MemorisationScores> memorisation;  ///< with a training set
};

struct FidelityResult {
  std::int64_t n_genes_real = 0;
  std::int64_t n_genes_generated = 0;
  std::int64_t n_shared_genes = 0;       ///< genes in every input, the ones compared
  std::int64_t n_correlation_genes = 0;  ///< resolved
  Comparison generated;
  std::optional<Comparison> control;
  FidelityOptions options;            ///< as used
  std::vector<std::string> warnings;  ///< things the caller should show (few shared genes, ...)
};

/// Scores `generated` against `real`; with `train` (the cells the generator was fitted on)
/// adds the memorisation check, with `control` (real cells not in `real`) a real-vs-real row.
/// Throws InputError on: an empty input, values that are not counts (see allow_non_integer),
/// fewer than min_shared_genes shared genes (the message gives the counts), a missing label
/// column (listing the available ones), options out of range.
FidelityResult evaluate_fidelity(const Dataset& real, const Dataset& generated,
                                 const FidelityOptions& options = {},
                                 const Dataset* train = nullptr, const Dataset* control = nullptr);

/// The result as a JSON document (NaN as null); `indent` < 0 gives one line.
std::string to_json(const FidelityResult& result, int indent = 1);

/// A readable table: one row per score, columns "generated", "control" (when present) and the
/// ideal value.
std::string format_table(const FidelityResult& result);

}  // namespace cellvae::analysis
