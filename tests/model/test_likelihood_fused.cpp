// The fused, zero-aware NB/ZINB kernel equals the plain LibTorch path (values and gradients),
// and its backward matches finite differences in double. (Its speed is a benchmark's business.)
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <string>

#include "cellvae/model/likelihood.hpp"
#include "cellvae/model/likelihood_fused.hpp"
#include "cellvae/model/vae.hpp"
#include "gradient_check.hpp"

namespace cm = cellvae::model;

namespace {

struct Batch {
  torch::Tensor x, mu, theta, z;
};

// cells x genes with about `zero_fraction` zeros, counts up to a few hundred.
Batch make_batch(std::int64_t cells, std::int64_t genes, torch::Dtype dtype, bool per_gene_theta,
                 double zero_fraction = 0.73, std::uint64_t seed = 11) {
  torch::manual_seed(seed);
  const auto opt = torch::TensorOptions().dtype(torch::kDouble);
  Batch b;
  torch::Tensor nonzero = torch::rand({cells, genes}, opt) > zero_fraction;
  b.x = (torch::poisson(torch::exp(torch::randn({cells, genes}, opt) * 1.5)) + 1) * nonzero;
  b.mu = torch::exp(torch::randn({cells, genes}, opt) * 1.5);
  b.theta = per_gene_theta ? torch::exp(torch::randn({1, genes}, opt) * 2)
                           : torch::exp(torch::randn({cells, genes}, opt) * 2);
  b.z = torch::randn({cells, genes}, opt) * 2;
  b.x = b.x.to(dtype);
  b.mu = b.mu.to(dtype);
  b.theta = b.theta.to(dtype);
  b.z = b.z.to(dtype);
  return b;
}

struct Result {
  torch::Tensor value, d_mu, d_theta, d_z;
};

// Loss = sum_i w_i * loglik_i with non-uniform weights, so the backward's per-cell scaling is
// exercised.
Result evaluate(const Batch& b, bool zi, bool fused) {
  torch::Tensor mu = b.mu.clone().requires_grad_(true);
  torch::Tensor theta = b.theta.clone().requires_grad_(true);
  torch::Tensor z = b.z.clone().requires_grad_(true);
  torch::Tensor per_cell;
  if (fused)
    per_cell = cm::fused_nb_log_prob_per_cell(b.x, mu, theta, zi ? z : torch::Tensor());
  else
    per_cell = (zi ? cm::zinb_log_prob(b.x, mu, theta, z) : cm::nb_log_prob(b.x, mu, theta)).sum(1);
  torch::Tensor w = torch::linspace(0.5, 1.5, per_cell.size(0), per_cell.options());
  (per_cell * w).sum().backward();
  return {per_cell.detach(), mu.grad(), theta.grad(), zi ? z.grad() : torch::Tensor()};
}

void expect_close(const torch::Tensor& a, const torch::Tensor& b, double rtol, double atol,
                  const std::string& what) {
  ASSERT_TRUE(a.defined() && b.defined()) << what;
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  const double err = ((a - b).abs() - rtol * b.abs()).max().item<double>();
  EXPECT_LE(err, atol) << what << ": max |a-b| = " << (a - b).abs().max().item<double>();
}

}  // namespace

TEST(FusedNb, EqualsPlainPathDouble) {
  for (bool per_gene : {true, false})
    for (bool zi : {false, true}) {
      const std::string what = std::string(zi ? "zinb" : "nb") + (per_gene ? " gene" : " cell");
      Batch b = make_batch(37, 211, torch::kDouble, per_gene);
      Result plain = evaluate(b, zi, false), fused = evaluate(b, zi, true);
      expect_close(fused.value, plain.value, 1e-12, 1e-9, what + " value");
      expect_close(fused.d_mu, plain.d_mu, 1e-10, 1e-12, what + " d_mu");
      expect_close(fused.d_theta, plain.d_theta, 1e-9, 1e-11, what + " d_theta");
      if (zi) expect_close(fused.d_z, plain.d_z, 1e-10, 1e-12, what + " d_z");
    }
}

// Float: the fused kernel computes in double inside, so it differs from the plain float path
// by the latter's rounding; compared against the double result, the fused one is closer.
TEST(FusedNb, EqualsPlainPathFloat) {
  for (bool per_gene : {true, false})
    for (bool zi : {false, true}) {
      const std::string what = std::string(zi ? "zinb" : "nb") + (per_gene ? " gene" : " cell");
      Batch b = make_batch(64, 300, torch::kFloat, per_gene);
      Result plain = evaluate(b, zi, false), fused = evaluate(b, zi, true);
      const double scale = plain.value.abs().max().item<double>();
      expect_close(fused.value, plain.value, 1e-5, 1e-5 * scale, what + " value");
      expect_close(fused.d_mu, plain.d_mu, 1e-4, 1e-5, what + " d_mu");
      expect_close(fused.d_theta, plain.d_theta, 1e-3, 1e-4, what + " d_theta");
      if (zi) expect_close(fused.d_z, plain.d_z, 1e-4, 1e-5, what + " d_z");

      Batch bd{b.x.to(torch::kDouble), b.mu.to(torch::kDouble), b.theta.to(torch::kDouble),
               b.z.to(torch::kDouble)};
      torch::Tensor exact = evaluate(bd, zi, true).value;
      const double err_fused = (fused.value.to(torch::kDouble) - exact).abs().max().item<double>();
      const double err_plain = (plain.value.to(torch::kDouble) - exact).abs().max().item<double>();
      EXPECT_LE(err_fused, err_plain + 1e-4 * scale) << what;
    }
}

// The float fast path (zero counts vectorized in float, the rest in double) against the
// all-double path on float inputs: counts beyond the per-gene tables (9..16, > 16, non-integer),
// zero logits beyond ±30, per-gene and per-cell θ, with and without gradients.
TEST(FusedNb, VectorizedFloatPathEqualsTheExactPath) {
  for (bool per_gene : {true, false})
    for (bool zi : {false, true}) {
      const std::string what = std::string(zi ? "zinb" : "nb") + (per_gene ? " gene" : " cell");
      Batch b = make_batch(67, 301, torch::kFloat, per_gene, 0.7, 21);
      b.x.index_put_({torch::indexing::Slice(0, 5)}, b.x.index({torch::indexing::Slice(0, 5)}) * 7);
      b.x.index_put_({5, torch::indexing::Slice(0, 40)}, 2.5);  // non-integer counts
      b.z.index_put_({torch::indexing::Slice(6, 9)}, b.z.index({torch::indexing::Slice(6, 9)}) * 30);
      auto run = [&](bool vectorized) {
        torch::Tensor mu = b.mu.clone().requires_grad_(true);
        torch::Tensor theta = b.theta.clone().requires_grad_(true);
        torch::Tensor z = b.z.clone().requires_grad_(true);
        cm::FusedNbOptions o;
        o.vectorized = vectorized;
        torch::Tensor v =
            cm::fused_nb_log_prob_per_cell(b.x, mu, theta, zi ? z : torch::Tensor(), o);
        torch::Tensor w = torch::linspace(0.5, 1.5, v.size(0), v.options());
        (v * w).sum().backward();
        return Result{v.detach(), mu.grad(), theta.grad(), zi ? z.grad() : torch::Tensor()};
      };
      const Result fast = run(true), exact = run(false);
      const double scale = exact.value.abs().max().item<double>();
      expect_close(fast.value, exact.value, 1e-6, 1e-6 * scale, what + " value");
      expect_close(fast.d_mu, exact.d_mu, 1e-5, 1e-6, what + " d_mu");
      expect_close(fast.d_theta, exact.d_theta, 1e-4, 1e-5, what + " d_theta");
      if (zi) expect_close(fast.d_z, exact.d_z, 1e-5, 1e-6, what + " d_z");
      {
        torch::NoGradGuard no_grad;
        torch::Tensor v = cm::fused_nb_log_prob_per_cell(b.x, b.mu, b.theta,
                                                          zi ? b.z : torch::Tensor());
        expect_close(v, fast.value, 0, 0, what + " without gradients");
      }
    }
}

TEST(FusedNb, BackwardMayRunOnlyOnce) {
  Batch b = make_batch(3, 5, torch::kFloat, true);
  torch::Tensor mu = b.mu.clone().requires_grad_(true);
  torch::Tensor v = cm::fused_nb_log_prob_per_cell(b.x, mu, b.theta, b.z).sum();
  v.backward({}, /*retain_graph=*/true);
  EXPECT_THROW(v.backward(), std::exception);
}

TEST(FusedNb, BackwardMatchesFiniteDifferences) {
  for (bool per_gene : {true, false})
    for (bool zi : {false, true}) {
      Batch b = make_batch(4, 9, torch::kDouble, per_gene, 0.5, 3);
      torch::Tensor mu = b.mu.clone().requires_grad_(true);
      torch::Tensor theta = b.theta.clone().requires_grad_(true);
      torch::Tensor z = b.z.clone().requires_grad_(true);
      torch::Tensor w = torch::tensor({0.3, -1.2, 2.0, 0.7}, torch::kDouble);
      auto loss = [&] {
        return (cm::fused_nb_log_prob_per_cell(b.x, mu, theta, zi ? z : torch::Tensor()) * w)
            .sum();
      };
      std::vector<torch::Tensor> inputs = {mu, theta};
      if (zi) inputs.push_back(z);
      cellvae::testing::expect_gradients_match_finite_differences(loss, inputs, 1e-6,
                                                                  zi ? "zinb" : "nb");
    }
}

TEST(FusedNb, OneDimensionalThetaAndNoGrad) {
  Batch b = make_batch(5, 7, torch::kDouble, true);
  torch::Tensor theta1 = b.theta.view(-1).clone().requires_grad_(true);
  torch::Tensor v = cm::fused_nb_log_prob_per_cell(b.x, b.mu, theta1, b.z);
  v.sum().backward();
  EXPECT_EQ(theta1.grad().sizes(), theta1.sizes());
  torch::Tensor plain = cm::zinb_log_prob(b.x, b.mu, b.theta, b.z).sum(1);
  EXPECT_TRUE(torch::allclose(v.detach(), plain, 1e-12, 1e-9));
  {
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::allclose(cm::fused_nb_log_prob_per_cell(b.x, b.mu, b.theta), 
                                cm::nb_log_prob(b.x, b.mu, b.theta).sum(1), 1e-12, 1e-9));
  }
  EXPECT_THROW(cm::fused_nb_log_prob_per_cell(b.x, b.mu, torch::ones({2, 7}, torch::kDouble)),
               std::invalid_argument);
  EXPECT_THROW(cm::fused_nb_log_prob_per_cell(b.x.t(), b.mu, b.theta), std::invalid_argument);
}

// Zero logits beyond the direct formula's range (|z| > 30) and tiny / huge theta take the
// overflow-safe branches; they must agree with the plain path too. Tolerances are those of the
// plain path here: with theta = 1e7 its lgamma(x + theta) - lgamma(theta) loses ~1e-8 per entry,
// and torch's softplus returns its input above 20 (an error up to e^-20 in d_z).
TEST(FusedNb, ExtremeZeroLogitsAndThetaEqualPlainPath) {
  Batch b = make_batch(16, 64, torch::kDouble, false, 0.6, 5);
  b.z = b.z * 40;  // many |z| > 30, some beyond exp's float range
  b.theta.index_put_({torch::indexing::Slice(0, 4)}, 1e-6);
  b.theta.index_put_({torch::indexing::Slice(4, 8)}, 1e7);
  Result plain = evaluate(b, true, false), fused = evaluate(b, true, true);
  expect_close(fused.value, plain.value, 1e-10, 1e-5, "value");
  expect_close(fused.d_mu, plain.d_mu, 1e-8, 1e-10, "d_mu");
  expect_close(fused.d_theta, plain.d_theta, 1e-6, 1e-8, "d_theta");
  expect_close(fused.d_z, plain.d_z, 1e-10, 1e-8, "d_z");
}

// The training hot path: a whole scVI-like module (ZINB, observed library, batch covariate)
// gives the same loss and the same gradient of every parameter with the fused likelihood as
// with plain LibTorch operations, in float, from the same weights and the same z draw.
TEST(FusedNb, VaeLossAndGradientsEqualPlainPath) {
  for (auto kind : {cm::LikelihoodKind::zinb, cm::LikelihoodKind::nb}) {
    cm::ModelConfig cfg;
    cfg.n_genes = 200;
    cfg.n_batches = 3;
    cfg.likelihood = kind;
    cfg.dropout = 0.0;
    cfg.seed = 4;
    torch::manual_seed(9);
    Batch data = make_batch(48, cfg.n_genes, torch::kFloat, true);
    cm::CellBatch batch;
    batch.x = data.x;
    batch.batches = torch::randint(0, 3, {48}, torch::kLong);
    auto run = [&](bool fused) {
      cm::ModelConfig c = cfg;
      c.fused_likelihood = fused;
      cm::Vae vae(c);
      vae->train();
      torch::Generator gen = at::detail::createCPUGenerator(17);
      cm::LossTerms t = vae->loss(batch, gen, 0.3);
      t.loss.mean().backward();
      std::vector<torch::Tensor> grads;
      for (const auto& p : vae->parameters())
        grads.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
      return std::make_pair(t.loss.detach(), grads);
    };
    auto [loss_f, grads_f] = run(true);
    auto [loss_p, grads_p] = run(false);
    const std::string what = kind == cm::LikelihoodKind::zinb ? "zinb" : "nb";
    expect_close(loss_f, loss_p, 1e-5, 1e-3, what + " loss");
    ASSERT_EQ(grads_f.size(), grads_p.size());
    for (std::size_t i = 0; i < grads_f.size(); ++i) {
      const double scale = grads_p[i].abs().max().item<double>();
      expect_close(grads_f[i], grads_p[i], 1e-3, 1e-3 * scale + 1e-6,
                   what + " gradient of parameter " + std::to_string(i));
    }
  }
}

// The fused Bernoulli (VAExprs's binary cross-entropy) equals the plain path: values and
// gradients in float and double, with p at and beyond the clamping bounds (no gradient there)
// and x in [0, 1] as well as slightly outside (validation cells).
TEST(FusedBernoulli, EqualsPlainPath) {
  for (auto dtype : {torch::kFloat, torch::kDouble}) {
    torch::manual_seed(8);
    const auto opt = torch::TensorOptions().dtype(dtype);
    torch::Tensor x = (torch::rand({37, 211}, opt) * 1.2 - 0.1) * (torch::rand({37, 211}, opt) > 0.6);
    torch::Tensor p = torch::sigmoid(torch::randn({37, 211}, opt) * 4);
    p.index_put_({0, torch::indexing::Slice(0, 5)}, 0.0);
    p.index_put_({1, torch::indexing::Slice(0, 5)}, 1.0);
    p.index_put_({2, torch::indexing::Slice(0, 5)}, cm::kBernoulliEps);
    auto run = [&](bool fused) {
      torch::Tensor q = p.clone().requires_grad_(true);
      torch::Tensor v = fused ? cm::fused_bernoulli_log_prob_per_cell(x, q)
                              : cm::bernoulli_log_prob(x, q).sum(1);
      torch::Tensor w = torch::linspace(0.5, 1.5, v.size(0), v.options());
      (v * w).sum().backward();
      return std::make_pair(v.detach(), q.grad());
    };
    const auto [vf, gf] = run(true);
    const auto [vp, gp] = run(false);
    const bool is_float = dtype == torch::kFloat;
    const double scale = vp.abs().max().item<double>();
    expect_close(vf, vp, is_float ? 1e-5 : 1e-12, (is_float ? 1e-5 : 1e-12) * scale, "value");
    expect_close(gf, gp, is_float ? 1e-5 : 1e-12, is_float ? 1e-4 : 1e-9, "gradient");
    EXPECT_EQ(gf.index({0, torch::indexing::Slice(0, 5)}).abs().sum().item<double>(), 0.0);
  }
  torch::Tensor x = torch::rand({3, 4});
  EXPECT_THROW(cm::fused_bernoulli_log_prob_per_cell(x, torch::rand({3, 5})),
               std::invalid_argument);
}
