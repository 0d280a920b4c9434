// Observation models: names, log-probabilities against scipy (tests/data/model), gradients
// against finite differences, mean() and sample moments.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cellvae/error.hpp"
#include "cellvae/model/likelihood.hpp"
#include "gradient_check.hpp"
#include "test_support.hpp"

namespace cm = cellvae::model;
using cm::LikelihoodKind;

namespace {

const std::vector<LikelihoodKind> kAllKinds = {LikelihoodKind::bernoulli, LikelihoodKind::gaussian,
                                               LikelihoodKind::poisson,   LikelihoodKind::nb,
                                               LikelihoodKind::zip,       LikelihoodKind::zinb};

nlohmann::json load_reference() {
  std::ifstream in(cellvae::testing::fixture("model/likelihood_reference.json"));
  return nlohmann::json::parse(in);
}

torch::Tensor scalar_tensor(const nlohmann::json& c, const char* key, torch::Dtype dtype) {
  if (!c.contains(key)) return {};
  return torch::full({1, 1}, c.at(key).get<double>(), torch::TensorOptions().dtype(dtype));
}

cm::LikelihoodParams params_of(const nlohmann::json& c, torch::Dtype dtype) {
  cm::LikelihoodParams p;
  p.mean = scalar_tensor(c, "mean", dtype);
  p.inverse_dispersion = scalar_tensor(c, "theta", dtype);
  p.zero_logits = scalar_tensor(c, "zero_logit", dtype);
  p.log_scale = scalar_tensor(c, "log_scale", dtype);
  return p;
}

// Bound on how much the documented eps inside log(mu + eps), log(theta + eps) moves a count
// log-pmf away from the exact value (first order: x eps (1/mu - 1/(theta + mu)) + eps), doubled.
// It matters for tiny means only (mu = 1e-3: a relative 1e-6).
double eps_effect(const nlohmann::json& c) {
  if (!c.contains("theta") && c.at("kind") != "poisson" && c.at("kind") != "zip") return 0.0;
  const double x = c.at("x").get<double>(), mu = c.at("mean").get<double>();
  const double ratio = c.contains("theta")
                           ? c.at("theta").get<double>() / (c.at("theta").get<double>() + mu)
                           : 1.0;
  return 2 * cm::kLogEps * (x / mu * ratio + 1);
}

}  // namespace

// ---- names ----------------------------------------------------------------------------------

TEST(LikelihoodNames, RoundTrip) {
  for (LikelihoodKind k : kAllKinds) EXPECT_EQ(cm::parse_likelihood_kind(cm::to_string(k)), k);
  EXPECT_EQ(cm::to_string(LikelihoodKind::zinb), "zinb");
  EXPECT_EQ(cm::to_string(LikelihoodKind::bernoulli), "bernoulli");
  for (auto k : {cm::DispersionKind::gene, cm::DispersionKind::gene_batch,
                 cm::DispersionKind::gene_label, cm::DispersionKind::cell})
    EXPECT_EQ(cm::parse_dispersion_kind(cm::to_string(k)), k);
  EXPECT_EQ(cm::to_string(cm::DispersionKind::gene_batch), "gene-batch");
  EXPECT_EQ(cm::to_string(cm::DispersionKind::gene_label), "gene-label");
}

TEST(LikelihoodNames, ParseErrorsListValidNames) {
  try {
    cm::parse_likelihood_kind("ZINB");
    FAIL() << "no exception";
  } catch (const cellvae::InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("'ZINB'"), std::string::npos) << m;
    for (const char* n : {"bernoulli", "gaussian", "poisson", "nb", "zip", "zinb"})
      EXPECT_NE(m.find(n), std::string::npos) << m;
  }
  try {
    cm::parse_dispersion_kind("gene_batch");
    FAIL() << "no exception";
  } catch (const cellvae::InputError& e) {
    const std::string m = e.what();
    for (const char* n : {"gene", "gene-batch", "gene-label", "cell"})
      EXPECT_NE(m.find(n), std::string::npos) << m;
  }
  EXPECT_THROW(cm::parse_likelihood_kind(""), cellvae::InputError);
}

TEST(LikelihoodNames, Properties) {
  EXPECT_TRUE(cm::is_count_likelihood(LikelihoodKind::zip));
  EXPECT_FALSE(cm::is_count_likelihood(LikelihoodKind::gaussian));
  EXPECT_TRUE(cm::has_dispersion(LikelihoodKind::zinb));
  EXPECT_FALSE(cm::has_dispersion(LikelihoodKind::zip));
  EXPECT_TRUE(cm::is_zero_inflated(LikelihoodKind::zip));
  EXPECT_FALSE(cm::is_zero_inflated(LikelihoodKind::nb));
  for (LikelihoodKind k : kAllKinds) EXPECT_EQ(cm::make_likelihood(k)->kind(), k);
}

TEST(Likelihood, MissingParameterThrows) {
  cm::LikelihoodParams p;
  p.mean = torch::ones({2, 3});
  torch::Tensor x = torch::ones({2, 3});
  EXPECT_THROW(cm::make_likelihood(LikelihoodKind::nb)->log_prob(x, p), std::invalid_argument);
  EXPECT_THROW(cm::make_likelihood(LikelihoodKind::zip)->log_prob_per_cell(x, p),
               std::invalid_argument);
  EXPECT_THROW(cm::make_likelihood(LikelihoodKind::gaussian)->mean(cm::LikelihoodParams{}),
               std::invalid_argument);
  EXPECT_NO_THROW(cm::make_likelihood(LikelihoodKind::poisson)->log_prob(x, p));
}

// ---- against scipy ------------------------------------------------------------------------

TEST(LikelihoodReference, DoubleMatchesScipy) {
  const nlohmann::json ref = load_reference();
  ASSERT_TRUE(ref.at("source").contains("scipy"));
  const auto& cases = ref.at("cases");
  ASSERT_GT(cases.size(), 500u);
  double worst = 0;
  for (const auto& c : cases) {
    const LikelihoodKind kind = cm::parse_likelihood_kind(c.at("kind").get<std::string>());
    const double want = c.at("logp").get<double>();
    torch::Tensor x = torch::full({1, 1}, c.at("x").get<double>(), torch::kDouble);
    cm::LikelihoodParams p = params_of(c, torch::kDouble);
    for (bool fused : {false, true}) {
      auto lik = cm::make_likelihood(kind, {fused});
      const double got = fused ? lik->log_prob_per_cell(x, p).item<double>()
                               : lik->log_prob(x, p).item<double>();
      const double err =
          std::max(0.0, std::abs(got - want) - eps_effect(c)) / std::max(1.0, std::abs(want));
      worst = std::max(worst, err);
      EXPECT_LE(err, 1e-6) << c.dump() << " got " << got << (fused ? " (fused)" : "");
    }
  }
  RecordProperty("worst_relative_error_double", std::to_string(worst));
  std::cout << "worst relative error vs scipy (double): " << worst << "\n";
}

// Float: the fused NB/ZINB kernel works in double inside and keeps the double tolerance; the
// plain float path loses digits to lgamma(x + θ) - lgamma(θ) when θ or x is large (as scvi-tools
// does), so it is held to a tolerance scaled by the size of those terms.
TEST(LikelihoodReference, FloatMatchesScipy) {
  const nlohmann::json ref = load_reference();
  double worst_fused = 0, worst_plain = 0;
  for (const auto& c : ref.at("cases")) {
    const LikelihoodKind kind = cm::parse_likelihood_kind(c.at("kind").get<std::string>());
    const double want = c.at("logp").get<double>();
    torch::Tensor x = torch::full({1, 1}, c.at("x").get<double>(), torch::kFloat);
    cm::LikelihoodParams p = params_of(c, torch::kFloat);
    const double xv = c.at("x").get<double>();
    const double theta = c.value("theta", 0.0);
    const double mu = c.value("mean", 0.0);
    // Size of the largest intermediate term, whose float rounding bounds the error.
    double scale = std::max({1.0, std::abs(want), std::abs(xv * std::log(mu + 1e-8)), mu});
    if (cm::has_dispersion(kind) && xv > 0)
      scale = std::max({scale, std::abs(std::lgamma(xv + theta)), std::abs(std::lgamma(theta)),
                        std::lgamma(xv + 1)});
    const double plain = cm::make_likelihood(kind, {false})->log_prob(x, p).item<double>();
    const double err_plain = std::max(0.0, std::abs(plain - want) - eps_effect(c)) / scale;
    worst_plain = std::max(worst_plain, err_plain);
    EXPECT_LE(err_plain, 2e-6) << c.dump() << " got " << plain;
    if (cm::has_dispersion(kind)) {
      const double fused = cm::make_likelihood(kind, {true})->log_prob_per_cell(x, p).item<double>();
      const double err =
          std::max(0.0, std::abs(fused - want) - eps_effect(c)) / std::max(1.0, std::abs(want));
      worst_fused = std::max(worst_fused, err);
      EXPECT_LE(err, 1e-6) << c.dump() << " got " << fused << " (fused)";
    }
  }
  std::cout << "float: worst scaled error plain " << worst_plain << ", worst relative error fused "
            << worst_fused << "\n";
}

// ---- gradients against finite differences (double) ---------------------------------------------

namespace {

// Checks d(sum of log_prob_per_cell)/d(param) against central differences for every entry.
void check_gradients(LikelihoodKind kind, const torch::Tensor& x, cm::LikelihoodParams p,
                     bool fused) {
  auto lik = cm::make_likelihood(kind, {fused});
  std::vector<torch::Tensor*> fields = {&p.mean, &p.inverse_dispersion, &p.zero_logits,
                                        &p.log_scale};
  std::vector<torch::Tensor*> used;
  for (torch::Tensor* f : fields)
    if (f->defined()) {
      *f = f->detach().clone().set_requires_grad(true);
      used.push_back(f);
    }
  auto loss = [&] { return lik->log_prob_per_cell(x, p).sum(); };
  std::vector<torch::Tensor> inputs;
  for (torch::Tensor* f : used) inputs.push_back(*f);
  cellvae::testing::expect_gradients_match_finite_differences(
      loss, inputs, 1e-5, std::string(cm::to_string(kind)) + (fused ? " fused" : ""));
}

struct SmallBatch {
  torch::Tensor x;
  cm::LikelihoodParams p;
};

SmallBatch small_batch(LikelihoodKind kind, bool per_gene_theta) {
  torch::manual_seed(7);
  const auto opt = torch::TensorOptions().dtype(torch::kDouble);
  SmallBatch b;
  if (cm::is_count_likelihood(kind)) {
    b.x = torch::tensor({{0., 3., 0., 1., 250.}, {0., 0., 7., 0., 1.}, {12., 0., 0., 2., 0.}}, opt);
    b.p.mean = torch::tensor({{0.3, 2.5, 1e-3, 0.8, 180.}, {4., 0.05, 6., 1.2, 0.9},
                              {9., 30., 0.2, 1.7, 5.}},
                             opt);
  } else {
    b.x = torch::rand({3, 5}, opt);
    b.x.index_put_({0, 0}, 0.0);
    b.x.index_put_({1, 1}, 1.0);
    b.p.mean = torch::rand({3, 5}, opt) * 0.9 + 0.05;
  }
  if (cm::has_dispersion(kind))
    b.p.inverse_dispersion = per_gene_theta ? torch::tensor({{0.02, 1.5, 40., 3., 1e4}}, opt)
                                            : torch::rand({3, 5}, opt) * 5 + 0.1;
  if (cm::is_zero_inflated(kind)) b.p.zero_logits = torch::randn({3, 5}, opt) * 2;
  if (kind == LikelihoodKind::gaussian) {
    b.x = torch::randn({3, 5}, opt) * 2;
    b.p.mean = torch::randn({3, 5}, opt);
    b.p.log_scale = torch::randn({1, 5}, opt) * 0.5;
  }
  return b;
}

}  // namespace

TEST(LikelihoodGradients, FiniteDifferencesDouble) {
  for (LikelihoodKind kind : kAllKinds) {
    SCOPED_TRACE(std::string(cm::to_string(kind)));
    for (bool per_gene : {false, true}) {
      SmallBatch b = small_batch(kind, per_gene);
      check_gradients(kind, b.x, b.p, false);
      if (cm::has_dispersion(kind)) check_gradients(kind, b.x, b.p, true);
    }
  }
}

// ---- mean and sampling ----------------------------------------------------------------------

namespace {

struct Moments {
  torch::Tensor mean, variance;
};

// Analytic mean and variance of each column; params are 1 x K.
Moments analytic(LikelihoodKind kind, const cm::LikelihoodParams& p) {
  torch::Tensor m = p.mean;
  torch::Tensor v;
  switch (kind) {
    case LikelihoodKind::bernoulli: v = m * (1 - m); break;
    case LikelihoodKind::gaussian: v = torch::exp(2 * p.log_scale).expand_as(m); break;
    case LikelihoodKind::poisson:
    case LikelihoodKind::zip: v = m; break;
    case LikelihoodKind::nb:
    case LikelihoodKind::zinb: v = m + m * m / p.inverse_dispersion; break;
  }
  if (cm::is_zero_inflated(kind)) {
    torch::Tensor pi = torch::sigmoid(p.zero_logits);
    return {(1 - pi) * m, (1 - pi) * v + pi * (1 - pi) * m * m};
  }
  return {m, v};
}

cm::LikelihoodParams moment_params(LikelihoodKind kind) {
  const auto opt = torch::TensorOptions().dtype(torch::kDouble);
  cm::LikelihoodParams p;
  if (kind == LikelihoodKind::bernoulli)
    p.mean = torch::tensor({{0.02, 0.3, 0.5, 0.97}}, opt);
  else if (kind == LikelihoodKind::gaussian)
    p.mean = torch::tensor({{-2., 0., 1.5, 40.}}, opt);
  else
    p.mean = torch::tensor({{0.05, 1.0, 7.5, 60.}}, opt);
  if (cm::has_dispersion(kind)) p.inverse_dispersion = torch::tensor({{0.5, 2., 10., 3.}}, opt);
  if (cm::is_zero_inflated(kind)) p.zero_logits = torch::tensor({{-3., 0., 1., -1.}}, opt);
  if (kind == LikelihoodKind::gaussian) p.log_scale = torch::tensor({{-1., 0., 0.7, 2.}}, opt);
  return p;
}

}  // namespace

TEST(LikelihoodMean, MatchesAnalytic) {
  for (LikelihoodKind kind : kAllKinds) {
    cm::LikelihoodParams p = moment_params(kind);
    torch::Tensor got = cm::make_likelihood(kind)->mean(p);
    EXPECT_TRUE(torch::allclose(got, analytic(kind, p).mean, 1e-12, 1e-12))
        << cm::to_string(kind);
  }
}

TEST(LikelihoodSample, MomentsMatchAnalytic) {
  const std::int64_t n = 200000;
  for (LikelihoodKind kind : kAllKinds) {
    SCOPED_TRACE(std::string(cm::to_string(kind)));
    cm::LikelihoodParams p1 = moment_params(kind);
    cm::LikelihoodParams p = p1;
    p.mean = p1.mean.expand({n, p1.mean.size(1)});  // per-gene parameters stay 1 x K
    torch::Generator gen = at::detail::createCPUGenerator(20240613);
    torch::Tensor s = cm::make_likelihood(kind)->sample(p, gen);
    ASSERT_EQ(s.sizes(), p.mean.sizes());
    EXPECT_FALSE(s.requires_grad());
    Moments want = analytic(kind, p1);
    torch::Tensor mean = s.mean(0), var = s.var(0);
    for (std::int64_t k = 0; k < s.size(1); ++k) {
      const double m = want.mean[0][k].item<double>(), v = want.variance[0][k].item<double>();
      const double se = std::sqrt(v / n);
      EXPECT_NEAR(mean[k].item<double>(), m, 5 * se + 1e-12) << "column " << k;
      // Variance: within 5%, loose enough for the heavy NB tails at this n.
      EXPECT_NEAR(var[k].item<double>(), v, 0.05 * v + 1e-12) << "column " << k;
    }
    if (cm::is_count_likelihood(kind)) {
      EXPECT_TRUE(torch::equal(s, torch::round(s)));
      EXPECT_GE(s.min().item<double>(), 0.0);
    }
  }
}

TEST(LikelihoodSample, SameSeedSameDraws) {
  for (LikelihoodKind kind : kAllKinds) {
    cm::LikelihoodParams p = moment_params(kind);
    p.mean = p.mean.expand({100, 4});
    auto lik = cm::make_likelihood(kind);
    torch::Generator a = at::detail::createCPUGenerator(5), b = at::detail::createCPUGenerator(5),
                     c = at::detail::createCPUGenerator(6);
    torch::Tensor sa = lik->sample(p, a), sb = lik->sample(p, b), sc = lik->sample(p, c);
    EXPECT_TRUE(torch::equal(sa, sb)) << cm::to_string(kind);
    EXPECT_FALSE(torch::equal(sa, sc)) << cm::to_string(kind);
  }
}

TEST(Likelihood, PerCellIsSumOfEntries) {
  for (LikelihoodKind kind : kAllKinds) {
    SmallBatch b = small_batch(kind, true);
    auto lik = cm::make_likelihood(kind);
    torch::Tensor per_entry = lik->log_prob(b.x, b.p);
    ASSERT_EQ(per_entry.sizes(), b.x.sizes());
    EXPECT_TRUE(torch::allclose(lik->log_prob_per_cell(b.x, b.p), per_entry.sum(1), 1e-12, 1e-10))
        << cm::to_string(kind);
  }
}

// VAExprs's loss is n_genes x keras's mean binary cross-entropy = minus the per-cell sum.
TEST(Likelihood, BernoulliIsVaexprsBce) {
  torch::Tensor x = torch::tensor({{0.0, 0.25, 1.0}}, torch::kDouble);
  torch::Tensor p = torch::tensor({{0.1, 0.5, 0.8}}, torch::kDouble);
  const double bce_mean = torch::binary_cross_entropy(p, x).item<double>();
  cm::LikelihoodParams params;
  params.mean = p;
  const double lp = cm::make_likelihood(LikelihoodKind::bernoulli)->log_prob_per_cell(x, params)
                        .item<double>();
  EXPECT_NEAR(-lp, 3 * bce_mean, 1e-12);
}
