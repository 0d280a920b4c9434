// evaluate_fidelity: reference values on a small fixture, behaviour on simulated data and on
// the Kang PBMC data set, and its input errors.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "analysis_test_util.hpp"
#include "cellvae/analysis/fidelity.hpp"
#include "cellvae/error.hpp"
#include "cellvae/io.hpp"
#include "cellvae/random.hpp"
#include "cellvae/simulate.hpp"

namespace cellvae::analysis {
namespace {

using cellvae::testing::analysis_reference;
using cellvae::testing::dataset_from_json;

double auc_of(const JointScores& j, Classifier c) {
  for (const auto& a : j.auc)
    if (a.classifier == c) return a.auc;
  ADD_FAILURE() << "no AUC for " << to_string(c);
  return NAN;
}

void add_labels(Dataset& ds, const std::string& key, const std::vector<std::int32_t>& codes) {
  std::vector<std::string> labels;
  for (auto c : codes) labels.push_back("group" + std::to_string(c));
  ds.obs.set(Column::categorical_from_labels(key, labels));
}

TEST(Fidelity, MatchesReferenceDefinitions) {
  const auto& f = analysis_reference()["fidelity"];
  Dataset real = dataset_from_json(f["real"], "r");
  Dataset gen = dataset_from_json(f["generated"], "g");
  Dataset train = dataset_from_json(f["train"], "t");
  add_labels(real, "group", f["real_labels"].get<std::vector<std::int32_t>>());
  add_labels(gen, "group", f["generated_labels"].get<std::vector<std::int32_t>>());
  FidelityOptions o;
  o.scale_factor = f["scale_factor"].get<double>();
  o.n_correlation_genes = f["n_correlation_genes"].get<std::int64_t>();
  o.n_components = f["n_components"].get<std::int64_t>();
  o.pca_method = PcaMethod::exact;
  o.classifiers = {Classifier::knn};
  o.label_key = "group";
  o.min_cells_per_label = 10;
  const auto r = evaluate_fidelity(real, gen, o, &train);
  const auto& c = r.generated;
  EXPECT_EQ(c.n_real, 60);  // no subsampling below max_cells
  EXPECT_EQ(c.n_other, 50);
  EXPECT_EQ(r.n_shared_genes, 40);
  const auto& m = f["marginals"];
  const auto& s = c.marginals;
  const double tol = 1e-9;
  EXPECT_NEAR(s.library_size_ks, m["library_size_ks"].get<double>(), tol);
  EXPECT_NEAR(s.zero_fraction_ks, m["zero_fraction_ks"].get<double>(), tol);
  EXPECT_NEAR(s.library_zero_energy, m["library_zero_energy"].get<double>(), tol);
  EXPECT_NEAR(s.gene_mean_ks, m["gene_mean_ks"].get<double>(), tol);
  EXPECT_NEAR(s.gene_mean_spearman, m["gene_mean_spearman"].get<double>(), tol);
  EXPECT_NEAR(s.gene_variance_ks, m["gene_variance_ks"].get<double>(), tol);
  EXPECT_NEAR(s.gene_variance_spearman, m["gene_variance_spearman"].get<double>(), tol);
  EXPECT_NEAR(s.gene_zero_fraction_ks, m["gene_zero_fraction_ks"].get<double>(), tol);
  EXPECT_NEAR(s.gene_zero_fraction_spearman, m["gene_zero_fraction_spearman"].get<double>(), tol);
  EXPECT_NEAR(s.mean_variance_energy, m["mean_variance_energy"].get<double>(), tol);
  EXPECT_NEAR(s.mean_zero_energy, m["mean_zero_energy"].get<double>(), tol);
  EXPECT_NEAR(s.cell_correlation_ks, m["cell_correlation_ks"].get<double>(), tol);
  EXPECT_NEAR(s.gene_correlation_ks, m["gene_correlation_ks"].get<double>(), tol);
  EXPECT_NEAR(s.gene_correlation_spearman, m["gene_correlation_spearman"].get<double>(), tol);
  EXPECT_NEAR(s.median_library_size_real, m["median_library_size_real"].get<double>(), tol);
  EXPECT_NEAR(s.median_library_size_other, m["median_library_size_other"].get<double>(), tol);
  EXPECT_NEAR(s.zero_fraction_real, m["zero_fraction_real"].get<double>(), tol);
  EXPECT_NEAR(s.zero_fraction_other, m["zero_fraction_other"].get<double>(), tol);
  EXPECT_EQ(c.n_components, o.n_components);
  EXPECT_NEAR(c.explained_variance_ratio, f["explained_variance_ratio"].get<double>(), 1e-10);
  EXPECT_NEAR(c.joint.mmd2, f["mmd2"].get<double>(), 1e-9);
  EXPECT_NEAR(c.joint.mmd_bandwidth, f["mmd_bandwidth"].get<double>(), 1e-7);
  ASSERT_TRUE(c.label_transfer);
  EXPECT_DOUBLE_EQ(c.label_transfer->accuracy, f["label_accuracy"].get<double>());
  ASSERT_TRUE(c.memorisation);
  EXPECT_NEAR(c.memorisation->ratio, f["nn_ratio"].get<double>(), 1e-9);
  EXPECT_DOUBLE_EQ(c.memorisation->close_fraction, f["close_fraction"].get<double>());
  ASSERT_EQ(c.per_label.size(), 2u);
  EXPECT_EQ(c.per_label[0].joint.n_real + c.per_label[1].joint.n_real, 60);
}

// ---- behaviour on simulated data ------------------------------------------------------------

Dataset simulated(std::int64_t cells, std::uint64_t seed = 5) {
  SimulateOptions s;
  s.n_cells = cells;
  s.n_genes = 300;
  s.n_groups = 4;
  s.de_fraction = 0.3;  // clear cell types, so that destroying gene-gene structure shows
  s.de_log_mean = 0.5;
  s.seed = seed;
  return simulate_counts(s);
}

std::vector<std::int64_t> rows_where(std::int64_t n, bool even) {
  std::vector<std::int64_t> rows;
  for (std::int64_t i = even ? 0 : 1; i < n; i += 2) rows.push_back(i);
  return rows;
}

/// Each gene's values permuted across cells independently: per-gene marginals kept, the
/// structure between genes destroyed.
Dataset gene_shuffled(const Dataset& ds, std::uint64_t seed) {
  const auto n = ds.n_cells(), g = ds.n_genes();
  const auto dense = to_dense(ds.X);
  std::vector<float> out(dense.size());
  Rng rng(seed);
  std::vector<std::int64_t> perm(static_cast<std::size_t>(n));
  for (std::int64_t j = 0; j < g; ++j) {
    for (std::int64_t i = 0; i < n; ++i) perm[i] = i;
    rng.shuffle(perm);
    for (std::int64_t i = 0; i < n; ++i) out[i * g + j] = dense[perm[i] * g + j];
  }
  Dataset copy = ds;
  copy.X = csr_from_dense(out.data(), n, g);
  return copy;
}

FidelityOptions quick_options() {
  FidelityOptions o;
  o.n_trees = 100;
  o.threads = 2;
  return o;
}

TEST(Fidelity, DisjointRealSamplesLookAlike) {
  const Dataset all = simulated(2400);
  const Dataset a = subset(all, rows_where(2400, true), iota_indices(all.n_genes()));
  const Dataset b = subset(all, rows_where(2400, false), iota_indices(all.n_genes()));
  auto o = quick_options();
  o.label_key = "group";
  const auto r = evaluate_fidelity(a, b, o);
  const auto& c = r.generated;
  EXPECT_EQ(c.n_real, 1000);
  EXPECT_EQ(c.n_other, 1000);
  EXPECT_NEAR(auc_of(c.joint, Classifier::knn), 0.5, 0.06);
  EXPECT_NEAR(auc_of(c.joint, Classifier::random_forest), 0.5, 0.06);
  EXPECT_LT(c.joint.mmd2, 0.01);
  EXPECT_LT(c.marginals.library_size_ks, 0.1);
  EXPECT_GT(c.marginals.gene_mean_spearman, 0.95);
  ASSERT_TRUE(c.label_transfer);
  EXPECT_GT(c.label_transfer->accuracy, 0.9 * c.label_transfer->real_cv_accuracy);
  EXPECT_EQ(c.per_label.size(), 4u);
}

TEST(Fidelity, GeneShuffledCopyIsCaughtByTheJointScoresOnly) {
  const Dataset all = simulated(2000);
  const auto genes = iota_indices(all.n_genes());
  const Dataset real = subset(all, rows_where(2000, true), genes);
  const Dataset control = subset(all, rows_where(2000, false), genes);
  const Dataset shuffled = gene_shuffled(real, 9);
  auto o = quick_options();
  const auto r = evaluate_fidelity(real, shuffled, o, nullptr, &control);
  const auto& c = r.generated;
  const auto& k = *r.control;
  EXPECT_GT(auc_of(c.joint, Classifier::knn), 0.9);
  EXPECT_GT(auc_of(c.joint, Classifier::random_forest), 0.9);
  EXPECT_NEAR(auc_of(k.joint, Classifier::knn), 0.5, 0.06);
  EXPECT_GT(c.joint.mmd2, 5 * k.joint.mmd2);
  // Same cells' values per gene: per-gene zero fractions are identical, means nearly so ...
  EXPECT_DOUBLE_EQ(c.marginals.gene_zero_fraction_ks, 0.0);
  EXPECT_NEAR(c.marginals.gene_zero_fraction_spearman, 1.0, 1e-12);
  EXPECT_GT(c.marginals.gene_mean_spearman, 0.99);
  EXPECT_GT(c.marginals.gene_variance_spearman, 0.95);
  EXPECT_LT(c.marginals.gene_mean_ks, 0.1);
  // ... while the gene-gene correlations are gone.
  EXPECT_GT(c.marginals.gene_correlation_ks, 3 * k.marginals.gene_correlation_ks);
  EXPECT_LT(c.marginals.gene_correlation_spearman, 0.5 * k.marginals.gene_correlation_spearman);
}

TEST(Fidelity, DoubledLibrarySizesFailTheLibraryStatistic) {
  const Dataset all = simulated(1200);
  const auto genes = iota_indices(all.n_genes());
  const Dataset real = subset(all, rows_where(1200, true), genes);
  const Dataset control = subset(all, rows_where(1200, false), genes);
  Dataset doubled = real;
  for (auto& v : doubled.X.data) v *= 2;
  auto o = quick_options();
  o.classifiers = {Classifier::knn};
  const auto r = evaluate_fidelity(real, doubled, o, nullptr, &control);
  // Library sizes spread over a factor of about 2 (log-normal, sdlog 0.35), so a doubled copy
  // overlaps the real cells partly: KS about 0.7, against under 0.1 for real vs real.
  EXPECT_GT(r.generated.marginals.library_size_ks, 0.6);
  EXPECT_LT(r.control->marginals.library_size_ks, 0.1);
  // Normalisation removes the factor: the log-normalised gene statistics are unchanged.
  EXPECT_NEAR(r.generated.marginals.gene_mean_spearman, 1.0, 1e-12);
  EXPECT_LT(r.generated.marginals.gene_mean_ks, 1e-12);
}

TEST(Fidelity, ControlRowMemorisationAndReproducibility) {
  const Dataset all = simulated(1800, 8);
  const auto genes = iota_indices(all.n_genes());
  std::vector<std::int64_t> ra, rb, rc;
  for (std::int64_t i = 0; i < 1800; ++i) (i % 3 == 0 ? ra : i % 3 == 1 ? rb : rc).push_back(i);
  const Dataset real = subset(all, ra, genes), control = subset(all, rb, genes);
  const Dataset train = subset(all, rc, genes);
  // A "generator" that copies its training cells.
  const Dataset copies = train;
  auto o = quick_options();
  o.max_cells = 400;
  o.classifiers = {Classifier::knn};
  const auto r = evaluate_fidelity(real, copies, o, &train, &control);
  ASSERT_TRUE(r.control);
  ASSERT_TRUE(r.generated.memorisation && r.control->memorisation);
  EXPECT_LT(r.generated.memorisation->ratio, 0.2);
  EXPECT_GT(r.generated.memorisation->close_fraction, 0.5);
  EXPECT_NEAR(r.control->memorisation->ratio, 1.0, 0.15);
  EXPECT_NEAR(auc_of(r.control->joint, Classifier::knn), 0.5, 0.08);
  EXPECT_EQ(r.control->n_other, 400);

  // Same seed: identical output. Another seed: other subsamples.
  EXPECT_EQ(to_json(r), to_json(evaluate_fidelity(real, copies, o, &train, &control)));
  // The control does not change the generated row.
  const auto without = evaluate_fidelity(real, copies, o, &train);
  EXPECT_EQ(nlohmann::json::parse(to_json(without))["generated"],
            nlohmann::json::parse(to_json(r))["generated"]);
  o.seed = 1;
  EXPECT_NE(to_json(r), to_json(evaluate_fidelity(real, copies, o, &train, &control)));
}

TEST(Fidelity, JsonAndTable) {
  const Dataset all = simulated(600);
  const auto genes = iota_indices(all.n_genes());
  const Dataset a = subset(all, rows_where(600, true), genes);
  const Dataset b = subset(all, rows_where(600, false), genes);
  auto o = quick_options();
  o.label_key = "group";
  const auto r = evaluate_fidelity(a, b, o, nullptr, &b);
  const auto j = nlohmann::json::parse(to_json(r));
  EXPECT_EQ(j["n_shared_genes"], 300);
  for (const char* key : {"library_size_ks", "gene_mean_spearman", "mean_variance_energy",
                          "cell_correlation_ks", "gene_correlation_spearman"})
    EXPECT_TRUE(j["generated"]["marginals"].contains(key)) << key;
  for (const char* key : {"mmd_rbf", "knn_auc", "random_forest_auc", "n_components"})
    EXPECT_TRUE(j["generated"]["joint"].contains(key)) << key;
  EXPECT_TRUE(j["generated"].contains("label_transfer"));
  EXPECT_EQ(j["generated"]["per_label"].size(), 4u);
  EXPECT_TRUE(j.contains("control"));
  EXPECT_EQ(j["options"]["seed"], 0);
  const std::string table = format_table(r);
  for (const char* text : {"library size KS", "random-forest AUC", "knn AUC", "control",
                           "label transfer", "group1: MMD^2"})
    EXPECT_NE(table.find(text), std::string::npos) << text << "\n" << table;
}

// ---- input errors ---------------------------------------------------------------------------

Dataset tiny(std::int64_t cells, std::int64_t genes, float value = 1,
             const std::string& gene_prefix = "g") {
  std::vector<float> dense(static_cast<std::size_t>(cells * genes));
  for (std::size_t i = 0; i < dense.size(); ++i) dense[i] = static_cast<float>((i * 7) % 5) * value;
  std::vector<std::string> names;
  for (std::int64_t g = 0; g < genes; ++g) names.push_back(gene_prefix + std::to_string(g));
  return cellvae::testing::make_dataset(dense, cells, genes, "c", names);
}

template <class F>
std::string input_error(F f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no InputError";
  return "";
}

TEST(FidelityErrors, TooFewSharedGenes) {
  const Dataset real = tiny(50, 30);
  Dataset gen = tiny(50, 30);
  for (std::size_t g = 5; g < 30; ++g) gen.var.index[g] = "other" + std::to_string(g);
  const auto msg = input_error([&] { evaluate_fidelity(real, gen); });
  EXPECT_NE(msg.find("only 5 genes are shared"), std::string::npos) << msg;
  EXPECT_NE(msg.find("30 genes"), std::string::npos) << msg;
  // Enough shared genes: compared, with a warning when fewer than half are shared.
  for (std::size_t g = 5; g < 12; ++g) gen.var.index[g] = "g" + std::to_string(g);
  FidelityOptions o;
  o.classifiers = {Classifier::knn};
  const auto r = evaluate_fidelity(real, gen, o);
  EXPECT_EQ(r.n_shared_genes, 12);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("only 12 genes are shared"), std::string::npos);
}

TEST(FidelityErrors, EmptyInputs) {
  const Dataset real = tiny(50, 30);
  const auto msg = input_error([&] { evaluate_fidelity(real, tiny(0, 30)); });
  EXPECT_NE(msg.find("generated data"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no cells"), std::string::npos) << msg;
  const auto few = input_error([&] { evaluate_fidelity(real, tiny(4, 30)); });
  EXPECT_NE(few.find("has 4 cells"), std::string::npos) << few;
}

TEST(FidelityErrors, NonCountValues) {
  const Dataset real = tiny(50, 30);
  const Dataset fractional = tiny(50, 30, 0.5f);
  const auto msg = input_error([&] { evaluate_fidelity(real, fractional); });
  EXPECT_NE(msg.find("non-integer"), std::string::npos) << msg;
  FidelityOptions o;
  o.allow_non_integer = true;
  o.classifiers = {Classifier::knn};
  EXPECT_NO_THROW(evaluate_fidelity(real, fractional, o));
  const auto neg = input_error([&] { evaluate_fidelity(real, tiny(50, 30, -1.0f), o); });
  EXPECT_NE(neg.find("negative"), std::string::npos) << neg;
}

TEST(FidelityErrors, MissingLabelKeyAndBadOptions) {
  const Dataset real = tiny(50, 30);
  FidelityOptions o;
  o.label_key = "cell_type";
  const auto msg = input_error([&] { evaluate_fidelity(real, real, o); });
  EXPECT_NE(msg.find("cell_type"), std::string::npos) << msg;
  FidelityOptions bad;
  bad.n_folds = 1;
  EXPECT_NE(input_error([&] { evaluate_fidelity(real, real, bad); }).find("n_folds"),
            std::string::npos);
}

// ---- the Kang PBMC data set -----------------------------------------------------------------

TEST(FidelityKang, RealControlNearHalfShuffledAboveNinety) {
  CELLVAE_REQUIRE_SHARED(path, "kang_pbmc/kang_pbmc.h5ad");
  const Dataset kang = read_dataset(path);
  // 80/20 split, stratified by cell type (every fifth cell of each type is held out).
  const Column& type = kang.obs.at("cell_type");
  std::map<std::string, int> seen;
  std::vector<std::int64_t> test_rows, train_rows;
  for (std::int64_t i = 0; i < kang.n_cells(); ++i)
    (seen[type.text(static_cast<std::size_t>(i))]++ % 5 == 0 ? test_rows : train_rows).push_back(i);
  const auto genes = iota_indices(kang.n_genes());
  const Dataset test = subset(kang, test_rows, genes);
  const Dataset train = subset(kang, train_rows, genes);
  const Dataset shuffled = gene_shuffled(test, 3);
  FidelityOptions o;
  o.threads = 2;
  o.label_key = "cell_type";
  const auto start = std::chrono::steady_clock::now();
  const auto r = evaluate_fidelity(test, shuffled, o, &train, &train);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(r.control);
  EXPECT_EQ(r.control->n_real, 1000);
  EXPECT_EQ(r.control->n_other, 1000);
  for (auto kind : {Classifier::knn, Classifier::random_forest}) {
    EXPECT_GE(auc_of(r.control->joint, kind), 0.45) << to_string(kind);
    EXPECT_LE(auc_of(r.control->joint, kind), 0.55) << to_string(kind);
    EXPECT_GT(auc_of(r.generated.joint, kind), 0.9) << to_string(kind);
  }
  std::cout << format_table(r) << "evaluate_fidelity took " << seconds << " s\n";
}

}  // namespace
}  // namespace cellvae::analysis
