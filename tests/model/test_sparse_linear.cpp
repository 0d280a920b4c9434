// The encoder's first layer from CSR rows equals the dense layer: sparse_linear against
// torch::linear on the densified input (values, weight and bias gradients; float and double;
// empty rows; one-hot covariate columns), its backward against finite differences, the MLP's
// sparse forward against its dense forward, and the whole VAE (loss and every parameter
// gradient) with ModelConfig::sparse_input sparse against dense.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cellvae/csr_matrix.hpp"
#include "cellvae/data/cell_data.hpp"
#include "cellvae/error.hpp"
#include "cellvae/model/mlp.hpp"
#include "cellvae/model/sparse_linear.hpp"
#include "cellvae/model/vae.hpp"
#include "cellvae/preprocess/input_transform.hpp"
#include "cellvae/random.hpp"
#include "gradient_check.hpp"

namespace cm = cellvae::model;

namespace {

// A random cells x genes count matrix with about `density` stored entries; rows listed in
// `empty` have none.
cellvae::CsrMatrix random_counts(std::int64_t cells, std::int64_t genes, double density,
                                 std::uint64_t seed, const std::vector<std::int64_t>& empty = {}) {
  cellvae::Rng rng(seed);
  cellvae::CsrMatrix m;
  m.n_rows = cells;
  m.n_cols = genes;
  for (std::int64_t i = 0; i < cells; ++i) {
    const bool none = std::find(empty.begin(), empty.end(), i) != empty.end();
    for (std::int64_t g = 0; g < genes && !none; ++g)
      if (rng.uniform() < density) {
        m.indices.push_back(static_cast<std::int32_t>(g));
        m.data.push_back(static_cast<float>(1 + static_cast<int>(rng.uniform() * 30)));
      }
    m.indptr.push_back(static_cast<std::int64_t>(m.data.size()));
  }
  return m;
}

cm::CsrRows rows_of(const cellvae::CsrMatrix& m, torch::Dtype dtype) {
  cm::CsrRows r;
  r.n_cols = m.n_cols;
  r.indptr = torch::tensor(m.indptr, torch::kLong);
  r.indices = torch::tensor(m.indices, torch::kInt);
  r.values = torch::tensor(m.data, torch::kFloat).to(dtype);
  return r;
}

void expect_close(const torch::Tensor& a, const torch::Tensor& b, double rtol, double atol,
                  const std::string& what) {
  ASSERT_TRUE(a.defined() && b.defined()) << what;
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  EXPECT_TRUE(torch::allclose(a, b, rtol, atol))
      << what << ": max |a-b| = " << (a - b).abs().max().item<double>();
}

struct LayerResult {
  torch::Tensor y, d_weight, d_bias;
};

// y = layer(x) and the gradients of sum(y * upstream) for the sparse or the dense path.
LayerResult run_layer(const cm::CsrRows& x, const torch::Tensor& codes, std::int64_t width,
                      const torch::Tensor& weight0, const torch::Tensor& bias0, bool sparse) {
  torch::Tensor weight = weight0.clone().requires_grad_(true);
  torch::Tensor bias = bias0.defined() ? bias0.clone().requires_grad_(true) : torch::Tensor();
  torch::Tensor y;
  if (sparse) {
    y = cm::sparse_linear(x, weight, bias, codes);
  } else {
    torch::Tensor dense = cm::csr_to_dense(x, weight.options());
    if (codes.defined())
      dense = torch::cat({dense, torch::zeros({x.rows(), width}, weight.options())
                                     .scatter_(1, codes - x.n_cols, 1.0)},
                         1);
    y = torch::nn::functional::linear(dense, weight, bias);
  }
  torch::Tensor upstream = torch::linspace(-1, 2, y.numel(), y.options()).reshape(y.sizes());
  (y * upstream).sum().backward();
  return {y.detach(), weight.grad(), bias.defined() ? bias.grad() : torch::Tensor()};
}

}  // namespace

TEST(SparseLinear, EqualsTheDenseLayerWithEmptyRowsAndCovariates) {
  for (auto dtype : {torch::kFloat, torch::kDouble})
    for (bool with_codes : {false, true})
      for (bool with_bias : {true, false}) {
        const std::string what = std::string(dtype == torch::kFloat ? "float" : "double") +
                                 (with_codes ? " covariates" : "") + (with_bias ? " bias" : "");
        // Rows 0, 5 and the last are empty; 67 genes, 37 hidden units (not multiples of 4/8).
        const cellvae::CsrMatrix m = random_counts(23, 67, 0.3, 7, {0, 5, 22});
        const cm::CsrRows x = rows_of(m, dtype);
        const std::int64_t width = with_codes ? 5 : 0;  // two covariates: 3 + 2 categories
        torch::manual_seed(3);
        torch::Tensor codes;
        if (with_codes)
          codes = torch::stack({torch::randint(0, 3, {23}, torch::kLong) + 67,
                                torch::randint(0, 2, {23}, torch::kLong) + 70},
                               1);
        const auto opt = torch::TensorOptions().dtype(dtype);
        torch::Tensor weight = torch::randn({37, 67 + width}, opt);
        torch::Tensor bias = with_bias ? torch::randn({37}, opt) : torch::Tensor();
        const LayerResult s = run_layer(x, codes, width, weight, bias, true);
        const LayerResult d = run_layer(x, codes, width, weight, bias, false);
        const double tol = dtype == torch::kFloat ? 1e-5 : 1e-12;
        expect_close(s.y, d.y, tol, tol, what + " y");
        expect_close(s.d_weight, d.d_weight, tol, tol, what + " d weight");
        if (with_bias) expect_close(s.d_bias, d.d_bias, tol, tol, what + " d bias");
        // Empty rows are the bias alone; columns no cell has get a zero gradient.
        if (with_bias && !with_codes) expect_close(s.y[0], bias, 0, 0, what + " empty row");
      }
}

TEST(SparseLinear, BackwardMatchesFiniteDifferences) {
  const cellvae::CsrMatrix m = random_counts(4, 6, 0.5, 11, {2});
  const cm::CsrRows x = rows_of(m, torch::kDouble);
  torch::manual_seed(5);
  torch::Tensor weight = torch::randn({3, 8}, torch::kDouble).requires_grad_(true);
  torch::Tensor bias = torch::randn({3}, torch::kDouble).requires_grad_(true);
  torch::Tensor codes = torch::tensor({6, 7, 6, 6}, torch::kLong).reshape({4, 1});
  torch::Tensor upstream = torch::randn({4, 3}, torch::kDouble);
  auto loss = [&] { return (cm::sparse_linear(x, weight, bias, codes) * upstream).sum(); };
  cellvae::testing::expect_gradients_match_finite_differences(loss, {weight, bias}, 1e-6,
                                                              "sparse_linear");
}

TEST(SparseLinear, LargeBatchSplitOverThreadsEqualsDense) {
  // Enough cells and columns that forward and backward run in several threads' chunks.
  const cellvae::CsrMatrix m = random_counts(301, 1287, 0.27, 13, {17, 300});
  const cm::CsrRows x = rows_of(m, torch::kDouble);
  torch::manual_seed(8);
  torch::Tensor weight = torch::randn({128, 1287}, torch::kDouble) * 0.05;
  torch::Tensor bias = torch::randn({128}, torch::kDouble);
  const LayerResult s = run_layer(x, {}, 0, weight, bias, true);
  const LayerResult d = run_layer(x, {}, 0, weight, bias, false);
  expect_close(s.y, d.y, 1e-12, 1e-11, "y");
  expect_close(s.d_weight, d.d_weight, 1e-12, 1e-10, "d weight");
  expect_close(s.d_bias, d.d_bias, 1e-12, 1e-10, "d bias");
}

TEST(SparseLinear, RejectsBrokenInput) {
  const cellvae::CsrMatrix m = random_counts(5, 10, 0.5, 2);
  cm::CsrRows x = rows_of(m, torch::kFloat);
  torch::Tensor w = torch::randn({4, 10});
  EXPECT_NO_THROW(cm::sparse_linear(x, w, torch::Tensor()));
  EXPECT_THROW(cm::sparse_linear(x, torch::randn({4, 9}), torch::Tensor()),
               std::invalid_argument);
  EXPECT_THROW(cm::sparse_linear(x, w.to(torch::kDouble), torch::Tensor()),
               std::invalid_argument);
  cm::CsrRows bad = x;
  bad.indices = x.indices.clone();
  bad.indices[0] = 10;  // out of range
  EXPECT_THROW(cm::sparse_linear(bad, w, torch::Tensor()), std::invalid_argument);
  EXPECT_THROW(cm::check_csr(bad), std::invalid_argument);
  // Codes outside the covariate block.
  EXPECT_THROW(cm::sparse_linear(x, torch::randn({4, 12}), torch::Tensor(),
                                 torch::full({5, 1}, 3, torch::kLong)),
               std::invalid_argument);
  EXPECT_NO_THROW(cm::check_csr(x));
  EXPECT_NEAR(x.density(), static_cast<double>(m.nnz()) / 50.0, 1e-12);
}

TEST(MlpSparse, ForwardSparseEqualsForwardOnTheDenseInput) {
  for (auto injection : {cm::CovariateInjection::first_layer, cm::CovariateInjection::every_layer}) {
    cm::MlpOptions o;
    o.input_dim = 40;
    o.hidden = {16, 8};
    o.norm = cm::Normalization::batch;
    o.covariate_dim = 3;
    o.injection = injection;
    torch::manual_seed(2);
    cm::Mlp mlp(o);
    mlp->train();
    const cellvae::CsrMatrix m = random_counts(12, 40, 0.3, 4, {3});
    const cm::CsrRows x = rows_of(m, torch::kFloat);
    torch::Tensor codes = torch::randint(0, 3, {12}, torch::kLong);
    torch::Tensor onehot = torch::zeros({12, 3}).scatter_(1, codes.unsqueeze(1), 1.0);
    torch::Tensor dense = mlp->forward(cm::csr_to_dense(x), onehot);
    dense.sum().backward();
    std::vector<torch::Tensor> g_dense;
    for (auto& p : mlp->parameters()) {
      g_dense.push_back(p.grad().clone());
      p.mutable_grad() = torch::Tensor();
    }
    torch::Tensor sparse = mlp->forward_sparse(x, (codes + 40).unsqueeze(1));
    sparse.sum().backward();
    expect_close(sparse, dense, 1e-5, 1e-5, "forward");
    const auto params = mlp->parameters();
    for (std::size_t i = 0; i < params.size(); ++i)
      expect_close(params[i].grad(), g_dense[i], 1e-4, 1e-5, "gradient " + std::to_string(i));
  }
}

namespace {

// Loss and every parameter gradient of a VAE on `batch` with the given sparse_input.
std::pair<torch::Tensor, std::vector<torch::Tensor>> vae_run(cm::ModelConfig c,
                                                             const cm::CellBatch& batch,
                                                             cm::SparseInput mode) {
  c.sparse_input = mode;
  cm::Vae vae(c);
  vae->train();
  torch::manual_seed(21);  // the same dropout masks in both runs
  torch::Generator gen = at::detail::createCPUGenerator(17);
  cm::LossTerms t = vae->loss(batch, gen, 0.7);
  t.loss.mean().backward();
  std::vector<torch::Tensor> grads;
  for (const auto& p : vae->parameters())
    grads.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  return {t.loss.detach(), grads};
}

void expect_same_training_step(const cm::ModelConfig& c, const cm::CellBatch& batch,
                               const std::string& what) {
  auto [loss_d, grads_d] = vae_run(c, batch, cm::SparseInput::dense);
  auto [loss_s, grads_s] = vae_run(c, batch, cm::SparseInput::sparse);
  auto [loss_a, grads_a] = vae_run(c, batch, cm::SparseInput::auto_);
  expect_close(loss_s, loss_d, 1e-5, 1e-4, what + " loss");
  expect_close(loss_a, loss_d, 1e-5, 1e-4, what + " loss (auto)");
  ASSERT_EQ(grads_s.size(), grads_d.size());
  // Rounding differences of the first layer pass through batch norm, whose gradients are sums
  // over cells with cancellation; the bias of a Linear followed by batch norm has a gradient
  // that is zero up to rounding. So each gradient is compared relative to its largest entry,
  // plus a floor relative to the largest gradient entry of the model.
  double model_scale = 0;
  for (const auto& g : grads_d) model_scale = std::max(model_scale, g.abs().max().item<double>());
  for (std::size_t i = 0; i < grads_d.size(); ++i) {
    const double scale = grads_d[i].abs().max().item<double>();
    expect_close(grads_s[i], grads_d[i], 1e-4, 1e-4 * scale + 1e-5 * model_scale,
                 what + " gradient of parameter " + std::to_string(i) + " (largest entry " +
                     std::to_string(scale) + ")");
  }
}

}  // namespace

// The scVI-like model (ZINB, observed library, batch norm, dropout) and variants with encoder
// covariates and a latent library (two encoders read the sparse input), on minibatches made by
// data::make_batch from random sparse counts with empty rows.
TEST(VaeSparseInput, LossAndGradientsEqualTheDensePath) {
  cellvae::data::CellData data;
  data.counts = random_counts(40, 120, 0.25, 31, {0, 7, 39});
  cellvae::Rng rng(3);
  for (int i = 0; i < 40; ++i) {
    data.labels.push_back(static_cast<std::int32_t>(rng.uniform() * 3));
    data.batches.push_back(static_cast<std::int32_t>(rng.uniform() * 2));
  }
  std::vector<std::int64_t> rows;
  for (std::int64_t i = 39; i >= 0; i -= 2) rows.push_back(i);  // includes rows 39 and 7
  rows.push_back(0);
  const cm::CellBatch batch = cellvae::data::make_batch(data, rows);
  ASSERT_TRUE(batch.x_csr.defined());

  cm::ModelConfig c;
  c.n_genes = 120;
  c.encoder_hidden = {32};
  c.decoder_hidden = {32};
  c.latent_dim = 4;
  c.seed = 5;
  expect_same_training_step(c, batch, "scvi");

  cm::ModelConfig cov = c;
  cov.n_labels = 3;
  cov.n_batches = 2;
  cov.batches_in_encoder = true;
  cov.library = cm::LibraryKind::latent;
  cov.encoder_hidden = {32, 16};
  expect_same_training_step(cov, batch, "covariates + latent library");

  cm::ModelConfig mix = c;
  mix.prior = cm::PriorKind::gaussian_mixture;
  mix.components = 3;
  mix.likelihood = cm::LikelihoodKind::nb;
  expect_same_training_step(mix, batch, "mixture prior");
}

// VAExprs-like: identity input scaled to [0, 1], Bernoulli likelihood; x_csr holds x's nonzeros.
TEST(VaeSparseInput, IdentityInputEqualsTheDensePath) {
  cellvae::data::CellData data;
  data.counts = random_counts(30, 80, 0.3, 41, {4});
  std::vector<std::int64_t> train;
  for (std::int64_t i = 0; i < 30; ++i)
    if (i != 4) train.push_back(i);
  data.transform = cellvae::fit_input_transform(data.counts, train);
  const cm::CellBatch batch = cellvae::data::make_batch(data, train);
  ASSERT_TRUE(batch.x_csr.defined());
  expect_close(cm::csr_to_dense(batch.x_csr), batch.x, 0, 0, "x_csr holds x");

  cm::ModelConfig c;
  c.n_genes = 80;
  c.input = cm::InputKind::identity;
  c.likelihood = cm::LikelihoodKind::bernoulli;
  c.library = cm::LibraryKind::none;
  c.norm = cm::Normalization::none;
  c.dropout = 0.0;
  c.encoder_hidden = {64};
  c.decoder_hidden = {64};
  c.latent_dim = 2;
  c.variance_epsilon = 0.0;
  expect_same_training_step(c, batch, "vaexprs");
}

TEST(VaeSparseInput, MismatchedCsrIsAnInputError) {
  cellvae::data::CellData data;
  data.counts = random_counts(6, 20, 0.4, 1);
  cm::CellBatch batch = cellvae::data::make_batch(data, {0, 1, 2});
  cm::CellBatch other = cellvae::data::make_batch(data, {0, 1});
  batch.x_csr = other.x_csr;
  cm::ModelConfig c;
  c.n_genes = 20;
  c.encoder_hidden = {8};
  c.decoder_hidden = {8};
  c.latent_dim = 2;
  c.sparse_input = cm::SparseInput::sparse;
  cm::Vae vae(c);
  torch::Generator gen = at::detail::createCPUGenerator(1);
  EXPECT_THROW(vae->loss(batch, gen), cellvae::InputError);
}
