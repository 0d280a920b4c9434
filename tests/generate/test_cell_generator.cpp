// CellGenerator on models fitted to simulated groups: counts, label plans, seeds, conditional
// realism, library sizes, the VAExprs value scale, and errors naming the flag.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "cellvae/analysis/pca.hpp"
#include "cellvae/csr_matrix.hpp"
#include "cellvae/generate/cell_generator.hpp"
#include "cellvae/pipeline/fit.hpp"
#include "cellvae/simulate.hpp"
#include "test_support.hpp"

namespace cg = cellvae::generate;
namespace cp = cellvae::pipeline;
namespace cvt = cellvae::testing;
using cellvae::CsrMatrix;

namespace {

using cellvae::testing::contains;

cellvae::Dataset simulated_groups() {
  cellvae::SimulateOptions o;
  o.n_cells = 600;
  o.n_genes = 80;
  o.n_groups = 3;
  o.n_batches = 2;
  o.de_fraction = 0.3;
  o.de_log_mean = 0.7;  // clearly separated groups
  o.seed = 5;
  return cellvae::simulate_counts(o);
}

// A model fitted once per preset/likelihood and shared by the tests of this file.
const cp::FitResult& fitted(const std::string& key) {
  static std::map<std::string, cp::FitResult> cache;
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  static const cellvae::Dataset data = simulated_groups();
  cp::FitOptions o = cp::preset_options(key == "vaexprs" ? cp::Preset::vaexprs
                                        : key == "gmvae" ? cp::Preset::gmvae
                                                         : cp::Preset::scvi);
  o.preprocess.label_key = "group";
  o.preprocess.batch_key = "batch";
  o.train.epochs = key == "vaexprs" ? 20 : key == "gmvae" ? 80 : 40;
  o.train.threads = 1;
  o.train.kl_warmup_epochs = 0;
  o.train.seed = 3;
  o.model.seed = 3;
  if (key == "nb") o.model.likelihood = cellvae::model::LikelihoodKind::nb;
  return cache.emplace(key, cp::fit(data, nullptr, o)).first->second;
}

CsrMatrix generate_all(const cp::TrainedModel& model, const cg::GenerateOptions& o,
                       std::vector<std::int32_t>* labels = nullptr,
                       std::int64_t chunk = 64) {
  cg::CellGenerator gen(model, o);
  CsrMatrix all;
  bool first = true;
  while (gen.remaining() > 0) {
    cg::GeneratedChunk c = gen.next(chunk);
    if (labels) labels->insert(labels->end(), c.labels.begin(), c.labels.end());
    all = first ? c.values : cellvae::stack_rows(all, c.values);
    first = false;
  }
  return all;
}

// log(1 + 1e4 x / total) per row, dense float64 (cells x genes).
torch::Tensor log_cpm(const CsrMatrix& m) {
  std::vector<float> dense = cellvae::to_dense(m);
  torch::Tensor x = torch::from_blob(dense.data(), {m.n_rows, m.n_cols}, torch::kFloat)
                        .to(torch::kDouble);
  return torch::log1p(1e4 * x / x.sum(1, true).clamp_min(1.0));
}

// Fraction of rows of `x` whose nearest centroid (rows of `centroids`) is their own label.
double nearest_centroid_agreement(const torch::Tensor& x, const std::vector<std::int32_t>& labels,
                                  const torch::Tensor& centroids) {
  const torch::Tensor nearest = torch::cdist(x, centroids).argmin(1);
  std::int64_t agree = 0;
  for (std::int64_t i = 0; i < x.size(0); ++i)
    agree += nearest[i].item<std::int64_t>() == labels[static_cast<std::size_t>(i)];
  return static_cast<double>(agree) / static_cast<double>(x.size(0));
}

torch::Tensor label_centroids(const torch::Tensor& x, const std::vector<std::int32_t>& labels,
                              std::int64_t n_labels) {
  torch::Tensor c = torch::zeros({n_labels, x.size(1)}, x.options());
  std::vector<double> n(static_cast<std::size_t>(n_labels), 0);
  for (std::int64_t i = 0; i < x.size(0); ++i) {
    c[labels[static_cast<std::size_t>(i)]] += x[i];
    n[static_cast<std::size_t>(labels[static_cast<std::size_t>(i)])] += 1;
  }
  for (std::int64_t k = 0; k < n_labels; ++k) c[k] /= n[static_cast<std::size_t>(k)];
  return c;
}

// Labels of the model's training cells, in training-row order.
std::vector<std::int32_t> training_labels(const cp::FitResult& fit) {
  const cellvae::ApplyStateResult real =
      cellvae::apply_preprocess_state(fit.model.preprocess, simulated_groups());
  std::vector<std::int32_t> labels;
  for (auto r : fit.train_cells) labels.push_back(real.label_codes[static_cast<std::size_t>(r)]);
  return labels;
}

// Fraction of generated cells nearest (in a 10-component PCA of log-normalized counts fitted
// on the training cells) to the centroid of real training cells of their own label.
double pca_label_agreement(const cp::FitResult& fit, const CsrMatrix& gen,
                           const std::vector<std::int32_t>& gen_labels) {
  const cellvae::ApplyStateResult real =
      cellvae::apply_preprocess_state(fit.model.preprocess, simulated_groups());
  const CsrMatrix real_x = cellvae::select_rows(real.data.X, fit.train_cells);
  cellvae::analysis::PcaOptions pca_options;
  pca_options.n_components = 10;
  const auto pca = cellvae::analysis::run_pca(log_cpm(real_x), pca_options);
  return nearest_centroid_agreement(cellvae::analysis::pca_transform(pca, log_cpm(gen)),
                                    gen_labels,
                                    label_centroids(pca.scores, training_labels(fit), 3));
}

}  // namespace

TEST(CellGenerator, CountsAreNonNegativeIntegersOfTheModelsGenes) {
  const cp::TrainedModel& m = fitted("scvi").model;
  cg::GenerateOptions o;
  o.n_cells = 300;
  const CsrMatrix x = generate_all(m, o);
  EXPECT_EQ(x.n_rows, 300);
  EXPECT_EQ(x.n_cols, static_cast<std::int64_t>(m.preprocess.genes.size()));
  EXPECT_TRUE(cellvae::is_integer_valued(x));
  for (float v : x.data) EXPECT_GT(v, 0.0f);  // CSR keeps non-zeros only
  EXPECT_GT(x.nnz(), 0);
}

TEST(CellGenerator, LabelCountsAreHonouredExactly) {
  const cp::TrainedModel& m = fitted("scvi").model;
  const auto& cats = m.preprocess.labels->encoder.categories;
  cg::GenerateOptions o;
  o.label_counts = {{cats[2], 7}, {cats[0], 30}, {cats[1], 0}};
  o.n_cells = 37;
  std::vector<std::int32_t> labels;
  generate_all(m, o, &labels, 10);
  ASSERT_EQ(labels.size(), 37u);
  std::map<std::int32_t, int> n;
  for (auto l : labels) ++n[l];
  EXPECT_EQ(n[2], 7);
  EXPECT_EQ(n[0], 30);
  EXPECT_EQ(n.count(1), 0u);
}

TEST(CellGenerator, DrawnLabelsFollowTheTrainingFrequencies) {
  const cp::TrainedModel& m = fitted("scvi").model;
  cg::GenerateOptions o;
  o.n_cells = 4000;
  o.sampler = cg::SamplerKind::prior;  // labels only; no mixture fits needed
  std::vector<std::int32_t> labels;
  generate_all(m, o, &labels, 1000);
  const torch::Tensor train = m.training.labels;
  for (std::int32_t k = 0; k < 3; ++k) {
    const double expected = (train == k).sum().item<double>() / static_cast<double>(train.numel());
    const double got =
        static_cast<double>(std::count(labels.begin(), labels.end(), k)) / labels.size();
    // Binomial sd at p ~ 0.33, n = 4000 is 0.0075: 4 sd.
    EXPECT_NEAR(got, expected, 0.03) << "label " << k;
  }
}

TEST(CellGenerator, SameSeedSameCellsAnotherSeedOthers) {
  const cp::TrainedModel& m = fitted("scvi").model;
  cg::GenerateOptions o;
  o.n_cells = 120;
  o.seed = 9;
  const CsrMatrix a = generate_all(m, o), b = generate_all(m, o);
  EXPECT_EQ(a.indptr, b.indptr);
  EXPECT_EQ(a.indices, b.indices);
  EXPECT_EQ(a.data, b.data);
  o.seed = 10;
  const CsrMatrix c = generate_all(m, o);
  EXPECT_NE(a.data, c.data);
}

TEST(CellGenerator, ConditionalCellsResembleRealCellsOfTheirLabel) {
  const cp::FitResult& fit = fitted("scvi");
  const cp::TrainedModel& m = fit.model;
  cg::GenerateOptions o;
  o.n_cells = 600;
  std::vector<std::int32_t> gen_labels;
  const CsrMatrix gen = generate_all(m, o, &gen_labels, 200);

  // In PCA of log-normalized counts (fitted on the real cells).
  EXPECT_GT(pca_label_agreement(fit, gen, gen_labels), 0.9);

  // In the model's latent space: generated cells encoded with their labels.
  cellvae::data::CellData cells;
  cells.counts = gen;
  cells.labels = gen_labels;
  std::vector<std::int64_t> rows(static_cast<std::size_t>(gen.n_rows));
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<std::int64_t>(i);
  cp::TrainedModel copy = m;  // the handle shares the module
  torch::Tensor latent = copy.module->latent_mean(cellvae::data::make_batch(cells, rows));
  const torch::Tensor latent_centroids =
      label_centroids(m.training.latent_mean.to(torch::kDouble), training_labels(fit), 3);
  EXPECT_GT(nearest_centroid_agreement(latent.to(torch::kDouble), gen_labels, latent_centroids),
            0.9);
}

TEST(CellGenerator, FixedLibrarySizeGivesRowsOfThatTotalInExpectation) {
  const cp::TrainedModel& m = fitted("nb").model;
  cg::GenerateOptions o;
  o.n_cells = 20;
  o.mean = true;
  o.library_size = 2500;
  const CsrMatrix x = generate_all(m, o);
  for (double total : cellvae::row_sums(x)) EXPECT_NEAR(total, 2500.0, 0.05);
}

TEST(CellGenerator, ObservedLibrariesComeFromTrainingCells) {
  const cp::TrainedModel& m = fitted("scvi").model;
  cg::GenerateOptions o;
  o.n_cells = 50;
  o.sampler = cg::SamplerKind::prior;
  cg::CellGenerator gen(m, o);
  const cg::GeneratedChunk c = gen.next(50);
  const torch::Tensor train = m.training.library.to(torch::kDouble);
  for (double l : c.library) EXPECT_TRUE((train == l).any().item<bool>()) << l;
}

// Within-label R² of the generated cells' log library regressed (least squares) on the first
// five principal components of their log-normalized expected expression.
double library_r2_from_expression(const CsrMatrix& mean_values, const std::vector<double>& library,
                                  const std::vector<std::int32_t>& labels) {
  cellvae::analysis::PcaOptions pca_options;
  pca_options.n_components = 5;
  const torch::Tensor pcs = cellvae::analysis::run_pca(log_cpm(mean_values), pca_options).scores;
  const torch::Tensor log_l = torch::tensor(library, torch::kDouble).log();
  double residual = 0, total = 0;
  for (std::int32_t label : {0, 1, 2}) {
    std::vector<std::int64_t> rows;
    for (std::size_t i = 0; i < labels.size(); ++i)
      if (labels[i] == label) rows.push_back(static_cast<std::int64_t>(i));
    const torch::Tensor idx = torch::tensor(rows, torch::kInt64);
    const torch::Tensor y = log_l.index_select(0, idx);
    const torch::Tensor yc = y - y.mean();
    torch::Tensor x = pcs.index_select(0, idx);
    x = torch::cat({x - x.mean(0), torch::ones({x.size(0), 1}, x.options())}, 1);
    const torch::Tensor beta = std::get<0>(torch::linalg_lstsq(x, yc.unsqueeze(1)));
    residual += (yc.unsqueeze(1) - x.matmul(beta)).pow(2).sum().item<double>();
    total += yc.pow(2).sum().item<double>();
  }
  return 1.0 - residual / total;
}

TEST(CellGenerator, RegressionLibrariesFollowTheLatentStateCellLibrariesDoNot) {
  // Make the training libraries a function of the most variable latent coordinate, as in real
  // data where a cell's state predicts part of its size; the regression on z must carry that
  // over into the new cells, drawing libraries from training cells must not. Expected values of
  // an NB model are l ρ(z): their log-normalized profile depends on z only.
  cp::TrainedModel m = fitted("nb").model;
  const torch::Tensor mu = m.training.latent_mean.to(torch::kDouble);
  const std::int64_t k = mu.var(0).argmax().item<std::int64_t>();
  const torch::Tensor zk = (mu.select(1, k) - mu.select(1, k).mean()) / mu.select(1, k).std();
  m.training.library = (7.0 + 0.5 * zk).exp().to(torch::kFloat);
  cg::GenerateOptions o;
  o.n_cells = 600;
  o.mean = true;
  // On posterior means: this small model's posterior noise is large next to the spread of a
  // label's means, and z drawn around them predicts a library defined from the means poorly.
  o.mixture_input = cg::MixtureInput::means;
  auto run = [&](cg::LibrarySource source, double* r2) {
    o.library_source = source;
    cg::CellGenerator gen(m, o);
    EXPECT_EQ(gen.provenance().at("library_source"), std::string(cg::to_string(source)));
    const cg::GeneratedChunk c = gen.next(o.n_cells);
    *r2 = library_r2_from_expression(c.values, c.library, c.labels);
    return c.library;
  };
  double r2_regression = 0, r2_cells = 0;
  const std::vector<double> joint = run(cg::LibrarySource::regression, &r2_regression);
  run(cg::LibrarySource::cells, &r2_cells);
  EXPECT_GT(r2_regression, 0.5);
  EXPECT_LT(r2_cells, 0.2);
  // The draws keep the training distribution of log library (mean 7, sd about 0.5).
  const torch::Tensor log_joint = torch::tensor(joint, torch::kDouble).log();
  EXPECT_NEAR(log_joint.mean().item<double>(), 7.0, 0.1);
  EXPECT_NEAR(log_joint.std().item<double>(), 0.5, 0.1);
}

TEST(CellGenerator, VaexprsValuesAreDeScaledLogNormalizedOrCounts) {
  const cp::TrainedModel& m = fitted("vaexprs").model;
  ASSERT_TRUE(m.preprocess.input_transform.has_value());
  const auto& mm = m.preprocess.input_transform->min_max;
  cg::GenerateOptions o;
  o.n_cells = 40;
  const CsrMatrix x = generate_all(m, o);
  // sigmoid outputs in [0, 1] map back into each gene's training range [min, max].
  for (std::int64_t r = 0; r < x.n_rows; ++r)
    for (std::int64_t k = x.indptr[r]; k < x.indptr[r + 1]; ++k) {
      const auto g = static_cast<std::size_t>(x.indices[static_cast<std::size_t>(k)]);
      EXPECT_GE(x.data[static_cast<std::size_t>(k)], mm.min[g] - 1e-4);
      EXPECT_LE(x.data[static_cast<std::size_t>(k)], mm.max[g] + 1e-4);
    }
  EXPECT_FALSE(cellvae::is_integer_valued(x));
  o.counts = true;
  EXPECT_TRUE(cellvae::is_integer_valued(generate_all(m, o)));
}

TEST(CellGenerator, MixturePriorModelSamplesAChosenComponent) {
  const cp::TrainedModel& m = fitted("gmvae").model;
  cg::GenerateOptions o;
  o.n_cells = 30;
  cg::CellGenerator gen(m, o);
  EXPECT_EQ(gen.sampler(), cg::SamplerKind::prior);
  o.component = 1;
  EXPECT_EQ(generate_all(m, o).n_rows, 30);
  o.component = 3;  // K = 3 labels
  EXPECT_TRUE(contains(cvt::error_of([&] { cg::CellGenerator g(m, o); }), "--component"));
}

TEST(CellGenerator, MixturePriorSamplesFollowTheLabelsComponents) {
  // The GMVAE's components are learned without labels; drawing y from p(y | label) keeps a
  // label's generated cells where that label's training cells are.
  const cp::FitResult& fit = fitted("gmvae");
  const cp::TrainedModel& m = fit.model;
  cg::GenerateOptions o;
  o.n_cells = 600;
  cg::CellGenerator gen(m, o);
  ASSERT_TRUE(gen.provenance().contains("main_component_per_label"));
  EXPECT_EQ(gen.provenance().at("main_component_per_label").size(), 3u);
  std::vector<std::int32_t> labels;
  const CsrMatrix x = generate_all(m, o, &labels, 200);
  EXPECT_GT(pca_label_agreement(fit, x, labels), 0.8);
}

TEST(CellGenerator, PosteriorSamplerCyclesThroughTheGivenCells) {
  const cp::FitResult& fit = fitted("scvi");
  const cellvae::Dataset data = simulated_groups();
  const cellvae::data::CellData from = cp::cell_data_for(fit.model, data);
  cg::GenerateOptions o;
  o.n_cells = 700;  // more than the 600 given cells
  o.sampler = cg::SamplerKind::posterior;
  cg::CellGenerator gen(fit.model, o, &from);
  const cg::GeneratedChunk c = gen.next(700);
  ASSERT_EQ(c.source_cells.size(), 700u);
  EXPECT_EQ(c.source_cells[650], 50);
  EXPECT_EQ(c.labels[650], from.labels[50]);
  EXPECT_EQ(c.batches[650], from.batches[50]);
}

TEST(CellGenerator, OptionsTheModelCannotHonourNameTheFlag) {
  const cp::TrainedModel& m = fitted("scvi").model;
  auto error = [&](const cg::GenerateOptions& o) {
    return cvt::error_of([&] { cg::CellGenerator g(m, o); });
  };
  cg::GenerateOptions o;
  o.label_counts = {{"no such type", 5}};
  o.n_cells = 5;
  std::string e = error(o);
  EXPECT_TRUE(contains(e, "--labels")) << e;
  EXPECT_TRUE(contains(e, "no such type")) << e;
  EXPECT_TRUE(contains(e, m.preprocess.labels->encoder.categories[0])) << e;
  o.label_counts = {{m.preprocess.labels->encoder.categories[0], 4}};
  e = error(o);
  EXPECT_TRUE(contains(e, "sum to 4")) << e;
  o = {};
  o.batch = "batch9";
  e = error(o);
  EXPECT_TRUE(contains(e, "--batch")) << e;
  EXPECT_TRUE(contains(e, "batch1")) << e;
  o = {};
  o.counts = true;
  EXPECT_TRUE(contains(error(o), "--counts"));
  o = {};
  o.library_size = -1;
  EXPECT_TRUE(contains(error(o), "--library-size"));
  o = {};
  o.sampler = cg::SamplerKind::posterior;
  EXPECT_TRUE(contains(error(o), "--from"));
  o = {};
  o.n_cells = 0;
  EXPECT_TRUE(contains(error(o), "-n"));
}

TEST(ParseLabelCounts, NamesWithSpacesAndErrors) {
  const auto v = cg::parse_label_counts("B cells=100, NK cells = 50,a=b=2", "--labels");
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0], (std::pair<std::string, std::int64_t>("B cells", 100)));
  EXPECT_EQ(v[1], (std::pair<std::string, std::int64_t>("NK cells", 50)));
  EXPECT_EQ(v[2], (std::pair<std::string, std::int64_t>("a=b", 2)));
  for (const char* bad : {"B cells", "B=-1", "B=x", "=3", "B=1,B=2", "B=1,"})
    EXPECT_TRUE(contains(
        cvt::error_of([&] { cg::parse_label_counts(bad, "--labels"); }), "--labels"))
        << bad;
}
