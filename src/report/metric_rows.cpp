// The metrics table: each score of metrics.json (analysis::to_json) with a sentence on what it
// measures, its ideal value, and the generated and control values side by side.
#include <cmath>
#include <cstdio>
#include <string>

#include "cellvae/error.hpp"
#include "report_sections.hpp"

namespace cellvae::report::detail {

namespace {

using nlohmann::json;

/// metrics.json writes NaN as null; a missing key is also "not computed".
std::optional<double> number_at(const json* object, const char* key) {
  if (!object || !object->is_object()) return std::nullopt;
  const auto it = object->find(key);
  if (it == object->end() || !it->is_number()) return std::nullopt;
  const double v = it->get<double>();
  return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
}

const json* child(const json* object, const char* key) {
  if (!object || !object->is_object()) return nullptr;
  const auto it = object->find(key);
  return it == object->end() ? nullptr : &*it;
}

std::string ideal_of(Better better) {
  switch (better) {
    case Better::lower:
      return "0";
    case Better::higher:
      return "1";
    case Better::half:
      return "0.5";
    case Better::one:
      return "1";
    case Better::nominal:
      return "0.05";
    case Better::none:
      return "";
  }
  return "";
}

/// Distance from the ideal, to compare generated with control; empty without an ideal.
std::optional<double> distance_from_ideal(Better better, double v) {
  switch (better) {
    case Better::lower:
      return std::abs(v);
    case Better::higher:
      return std::abs(1 - v);
    case Better::half:
      return std::abs(v - 0.5);
    case Better::one:
      return std::abs(v - 1);
    case Better::nominal:
      return std::abs(v - 0.05);
    case Better::none:
      return std::nullopt;
  }
  return std::nullopt;
}

class RowBuilder {
 public:
  RowBuilder(const json* generated, const json* control) : gen_(generated), ctl_(control) {}

  /// A row read from the same path in both comparisons: `section` ("marginals", "joint", ...)
  /// then `key`.
  void add(const std::string& group, const char* section, const char* key, std::string name,
           Better better, std::string meaning, int digits = 3, bool with_control = true) {
    add_from(child(gen_, section), with_control ? child(ctl_, section) : nullptr, group, key,
             std::move(name), better, std::move(meaning), digits);
  }

  /// A row read from `key` of the objects `generated` and `control` (either may be null).
  void add_from(const json* generated, const json* control, const std::string& group,
                const char* key, std::string name, Better better, std::string meaning,
                int digits) {
    MetricRow row;
    row.group = group;
    row.name = std::move(name);
    row.meaning = std::move(meaning);
    row.better = better;
    row.ideal = ideal_of(better);
    row.digits = digits;
    row.generated = number_at(generated, key);
    row.control = number_at(control, key);
    finish(row);
  }

  void add_row(MetricRow row) { finish(row); }

  std::vector<MetricRow> rows;

 private:
  void finish(MetricRow& row) {
    if (row.generated && row.control) {
      const auto g = distance_from_ideal(row.better, *row.generated);
      const auto c = distance_from_ideal(row.better, *row.control);
      // A hair of tolerance: equal scores printed alike should read as "as good".
      if (g && c) row.as_good_as_control = *g <= *c + 1e-9;
    }
    rows.push_back(std::move(row));
  }

  const json* gen_;
  const json* ctl_;
};

std::string classifier_title(const std::string& name) {
  if (name == "knn") return "k-nearest-neighbour";
  if (name == "random-forest") return "random forest";
  if (name == "logistic") return "logistic regression";
  return name;
}

/// The JSON key of a classifier's AUC ("random-forest" -> "random_forest_auc").
std::string auc_key(std::string name) {
  for (char& c : name)
    if (c == '-') c = '_';
  return name + "_auc";
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

std::vector<MetricRow> metric_rows(const json& metrics, bool control_is_training) {
  if (!metrics.is_object() || !metrics.contains("generated"))
    throw InputError("metrics.json has no \"generated\" scores");
  const json* gen = &metrics.at("generated");
  const json* ctl = child(&metrics, "control");
  RowBuilder b(gen, ctl);

  const std::string cells = "Per-cell distributions";
  b.add(cells, "marginals", "library_size_ks", "library size KS", Better::lower,
        "Kolmogorov-Smirnov distance between the distributions of total counts per cell: the "
        "largest gap between the two cumulative distributions (0 = identical, 1 = disjoint).");
  b.add(cells, "marginals", "zero_fraction_ks", "zero fraction per cell KS", Better::lower,
        "KS distance between the distributions of each cell's fraction of genes with zero "
        "counts (sparsity).");
  b.add(cells, "marginals", "library_zero_energy", "library size × zero fraction energy",
        Better::lower,
        "Energy distance between the cells' joint (log library size, zero fraction), axes "
        "scaled: whether depth and sparsity go together as in real cells (0 = same).");
  {
    const auto real_median = number_at(child(gen, "marginals"), "median_library_size_real");
    b.add(cells, "marginals", "median_library_size_other",
          "median library size" +
              (real_median ? " (held-out real: " + fixed(*real_median, 0) + ")" : std::string()),
          Better::none, "Median total count per cell; compare with the held-out real cells'.", 0);
    const auto real_zero = number_at(child(gen, "marginals"), "zero_fraction_real");
    b.add(cells, "marginals", "zero_fraction_other",
          "zero fraction of the matrix" +
              (real_zero ? " (held-out real: " + fixed(*real_zero, 3) + ")" : std::string()),
          Better::none, "Fraction of all entries that are zero; compare with the real cells'.");
  }

  const std::string genes = "Per-gene statistics (log-normalised expression)";
  b.add(genes, "marginals", "gene_mean_ks", "gene mean KS", Better::lower,
        "KS distance between the distributions, over genes, of mean expression.");
  b.add(genes, "marginals", "gene_mean_spearman", "gene mean Spearman", Better::higher,
        "Rank correlation of the genes' means, gene by gene: 1 = the genes are ordered alike "
        "(highly expressed genes stay highly expressed).");
  b.add(genes, "marginals", "gene_variance_ks", "gene variance KS", Better::lower,
        "KS distance between the distributions, over genes, of expression variance.");
  b.add(genes, "marginals", "gene_variance_spearman", "gene variance Spearman", Better::higher,
        "Rank correlation of the genes' variances, gene by gene.");
  b.add(genes, "marginals", "gene_zero_fraction_ks", "gene zero fraction KS", Better::lower,
        "KS distance between the distributions, over genes, of the fraction of cells with a zero "
        "count (dropout).");
  b.add(genes, "marginals", "gene_zero_fraction_spearman", "gene zero fraction Spearman",
        Better::higher, "Rank correlation of the genes' zero fractions, gene by gene.");
  b.add(genes, "marginals", "mean_variance_energy", "mean × variance energy", Better::lower,
        "Energy distance between the genes' (mean, variance) relations: the over-dispersion "
        "of real counts (0 = same).");
  b.add(genes, "marginals", "mean_zero_energy", "mean × zero fraction energy", Better::lower,
        "Energy distance between the genes' (mean, zero fraction) relations: zero inflation "
        "(0 = same).");

  const std::string corr = "Correlation structure (most variable genes)";
  b.add(corr, "marginals", "cell_correlation_ks", "cell-cell correlation KS", Better::lower,
        "KS distance between the distributions of Pearson correlations of pairs of cells within "
        "each sample: how similar cells are to one another.");
  b.add(corr, "marginals", "gene_correlation_ks", "gene-gene correlation KS", Better::lower,
        "KS distance between the distributions of Pearson correlations of pairs of genes.");
  b.add(corr, "marginals", "gene_correlation_spearman", "gene-gene correlation Spearman",
        Better::higher,
        "Rank correlation of the gene-gene correlations, pair by pair: whether co-expressed "
        "genes (programs, pathways) stay co-expressed.");

  std::string joint = "Joint structure";
  if (const auto pcs = number_at(child(gen, "joint"), "n_components"))
    joint += " (" + fixed(*pcs, 0) + " principal components of both samples)";
  b.add(joint, "joint", "explained_variance_ratio", "components' share of variance", Better::none,
        "Share of the pooled log-normalised variance the components hold: how much of the "
        "data the joint scores see.");
  b.add(joint, "joint", "mmd_rbf", "MMD² (RBF kernel)", Better::lower,
        "Squared maximum mean discrepancy between the two clouds of cells: 0 = same "
        "distribution; compare with the control, which shows sampling noise on this data.",
        4);
  std::vector<std::string> classifiers;
  if (const json* opts = child(&metrics, "options"); opts && opts->contains("classifiers"))
    for (const auto& c : opts->at("classifiers"))
      if (c.is_string()) classifiers.push_back(c.get<std::string>());
  for (const auto& c : classifiers) {
    const std::string key = auc_key(c);
    b.add(joint, "joint", key.c_str(), classifier_title(c) + " AUC", Better::half,
          "Cross-validated ROC AUC of a " + classifier_title(c) +
              " classifier telling real from other cells: 0.5 = it cannot tell them apart, "
              "1 = it always can.");
  }

  if (const json* labels = child(gen, "per_label"); labels && labels->is_array()) {
    const json* ctl_labels = child(ctl, "per_label");
    for (const auto& l : *labels) {
      if (!l.is_object() || !l.contains("label") || !l.at("label").is_string()) continue;
      const std::string name = l.at("label").get<std::string>();
      const json* c = nullptr;
      if (ctl_labels && ctl_labels->is_array())
        for (const auto& cl : *ctl_labels)
          if (cl.is_object() && cl.value("label", std::string()) == name) c = &cl;
      const std::string group = "Within label " + name;
      auto add = [&](const char* key, std::string title, Better better, std::string meaning,
                     int digits) {
        b.add_from(&l, c, group, key, std::move(title), better, std::move(meaning), digits);
      };
      add("n_other",
          "cells (held-out real: " +
              (number_at(&l, "n_real") ? fixed(*number_at(&l, "n_real"), 0) : "?") + ")",
          Better::none, "Cells of this label in each sample.", 0);
      add("mmd_rbf", "MMD²", Better::lower,
          "As above, on this label's cells only (empty when either side has too few).", 4);
      for (const auto& cl : classifiers)
        add(auc_key(cl).c_str(), classifier_title(cl) + " AUC", Better::half,
            "As above, on this label's cells only.", 3);
    }
  }

  if (const json* lt = child(gen, "label_transfer"); lt && lt->is_object()) {
    MetricRow row;
    row.group = "Label transfer";
    row.name = "label accuracy";
    const std::string kind = lt->value("classifier", std::string("logistic"));
    const auto ceiling = number_at(lt, "real_cv_accuracy");
    row.meaning = "Fraction of cells that a " + classifier_title(kind) +
                  " classifier trained on the real cells assigns to their own label; the "
                  "ideal is the real cells' own cross-validated accuracy.";
    row.better = Better::higher;
    row.ideal = ceiling ? fixed(*ceiling, 3) : "1";
    row.generated = number_at(lt, "accuracy");
    row.control = number_at(child(ctl, "label_transfer"), "accuracy");
    b.add_row(row);
  }

  if (child(gen, "memorisation")) {
    const std::string group = "Memorisation (distance to the nearest training cell)";
    b.add(group, "memorisation", "nn_ratio", "nearest-neighbour distance ratio", Better::one,
          "Median distance from a generated cell to its nearest training cell over the same for "
          "held-out real cells: near 1 = new cells, far below 1 = copies of training cells.",
          3, !control_is_training);
    b.add(group, "memorisation", "close_fraction", "fraction closer than real's 5th percentile",
          Better::nominal,
          "Fraction of generated cells nearer to a training cell than 95% of held-out real cells "
          "are: about 0.05 without copying, towards 1 with it.",
          3, !control_is_training);
  }
  return std::move(b.rows);
}

}  // namespace cellvae::report::detail
