// Latent posterior and priors: analytic KL terms against closed forms written out here and
// against Monte-Carlo estimates (statistical tolerances: 5 standard errors), gradients against
// finite differences in double, the reparameterised sampler's moments, responsibilities and the
// name table.
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <memory>
#include <string>
#include <utility>

#include "cellvae/error.hpp"
#include "cellvae/model/posterior.hpp"
#include "cellvae/model/prior.hpp"

namespace cm = cellvae::model;

namespace {

constexpr double kLog2Pi = 1.8378770664093454836;

const auto kDouble = torch::TensorOptions().dtype(torch::kDouble);

// log N(z; m, exp(lv)) summed over the last dimension, written independently of the library.
torch::Tensor log_normal(const torch::Tensor& z, const torch::Tensor& m, const torch::Tensor& lv) {
  return (-0.5 * kLog2Pi - 0.5 * lv - (z - m).pow(2) / (2.0 * lv.exp())).sum(-1);
}

// Mean and standard error of the mean of a 1-d tensor.
std::pair<double, double> mean_and_se(const torch::Tensor& x) {
  const double n = static_cast<double>(x.numel());
  return {x.mean().item<double>(), x.std().item<double>() / std::sqrt(n)};
}

std::shared_ptr<cm::GaussianMixturePrior> make_mixture(std::int64_t k, std::int64_t d,
                                                       bool learn_weights, std::uint64_t seed) {
  cm::PriorOptions o;
  o.kind = cm::PriorKind::gaussian_mixture;
  o.latent_dim = d;
  o.components = k;
  o.learn_weights = learn_weights;
  o.seed = seed;
  auto prior = std::dynamic_pointer_cast<cm::GaussianMixturePrior>(cm::make_prior(o));
  prior->to(torch::kDouble);
  return prior;
}

// Random but fixed prior parameters (log-variances and logits away from 0).
void randomize(cm::GaussianMixturePrior& prior, torch::Generator& gen) {
  torch::NoGradGuard no_grad;
  prior.means.copy_(torch::randn(prior.means.sizes(), gen, kDouble) * 1.5);
  prior.log_variances.copy_(torch::randn(prior.log_variances.sizes(), gen, kDouble) * 0.5);
  prior.logits.copy_(torch::randn(prior.logits.sizes(), gen, kDouble));
}

cm::LatentPosterior random_mixture_posterior(std::int64_t cells, std::int64_t k, std::int64_t d,
                                             torch::Generator& gen) {
  cm::LatentPosterior q;
  q.z.mean = torch::randn({cells, k, d}, gen, kDouble);
  q.z.log_variance = torch::randn({cells, k, d}, gen, kDouble) * 0.5 - 0.3;
  q.component_logits = torch::randn({cells, k}, gen, kDouble);
  return q;
}

}  // namespace

// ---- names ----------------------------------------------------------------------------------

TEST(PriorKind, NamesRoundTrip) {
  for (auto kind : {cm::PriorKind::standard_normal, cm::PriorKind::gaussian_mixture})
    EXPECT_EQ(cm::parse_prior_kind(cm::to_string(kind)), kind);
  EXPECT_EQ(cm::to_string(cm::PriorKind::standard_normal), "normal");
  EXPECT_EQ(cm::to_string(cm::PriorKind::gaussian_mixture), "gmm");
  try {
    cm::parse_prior_kind("vamp");
    FAIL() << "expected InputError";
  } catch (const cellvae::InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'vamp'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("normal"), std::string::npos) << msg;
    EXPECT_NE(msg.find("gmm"), std::string::npos) << msg;
  }
}

TEST(Prior, MakePriorValidatesOptions) {
  cm::PriorOptions o;
  o.latent_dim = 0;
  EXPECT_THROW(cm::make_prior(o), cellvae::InputError);
  o.latent_dim = 3;
  o.kind = cm::PriorKind::gaussian_mixture;
  o.components = 0;
  EXPECT_THROW(cm::make_prior(o), cellvae::InputError);
  o.components = 4;
  auto prior = cm::make_prior(o);
  EXPECT_EQ(prior->kind(), cm::PriorKind::gaussian_mixture);
  EXPECT_EQ(prior->components(), 4);
  EXPECT_EQ(prior->latent_dim(), 3);
  auto params = prior->named_parameters();
  ASSERT_TRUE(params.contains("means"));
  ASSERT_TRUE(params.contains("log_variances"));
  ASSERT_TRUE(params.contains("logits"));
  EXPECT_FALSE(params["logits"].requires_grad());  // uniform p(y) unless learn_weights
  EXPECT_TRUE(params["means"].requires_grad());
  o.learn_weights = true;
  EXPECT_TRUE(cm::make_prior(o)->named_parameters()["logits"].requires_grad());
  // Same seed, same initial means; another seed, others.
  auto again = cm::make_prior(o);
  EXPECT_TRUE(torch::equal(params["means"], again->named_parameters()["means"]));
  o.seed = 1;
  EXPECT_FALSE(torch::equal(params["means"], cm::make_prior(o)->named_parameters()["means"]));
}

TEST(Prior, ShapeErrorsAreReported) {
  torch::Generator gen = at::detail::createCPUGenerator(3);
  auto normal = cm::make_prior(cm::PriorOptions{});  // D = 10
  cm::LatentPosterior q;
  q.z.mean = torch::zeros({4, 3});
  q.z.log_variance = torch::zeros({4, 3});
  EXPECT_THROW(normal->kl(q), std::invalid_argument);
  auto mixture = make_mixture(2, 3, false, 0);
  EXPECT_THROW(mixture->kl(q), std::invalid_argument);  // needs cells x K x D and logits
  EXPECT_THROW(mixture->sample(3, gen, 2), std::invalid_argument);
  EXPECT_THROW(normal->sample(3, gen, 1), std::invalid_argument);
}

// ---- posterior ------------------------------------------------------------------------------

TEST(Posterior, ReparameterizedSampleMoments) {
  const std::int64_t n = 200000;
  torch::Tensor mu = torch::tensor({1.0, -2.0, 0.5}, kDouble);
  torch::Tensor var = torch::tensor({1.0, 4.0, 0.25}, kDouble);
  cm::DiagonalGaussian q{mu.expand({n, 3}).clone().requires_grad_(true),
                         var.log().expand({n, 3}).clone().requires_grad_(true)};
  torch::Generator gen = at::detail::createCPUGenerator(42);
  torch::Tensor z = cm::reparameterized_sample(q, gen);
  ASSERT_EQ(z.sizes(), q.mean.sizes());
  for (int d = 0; d < 3; ++d) {
    const double m = mu[d].item<double>(), v = var[d].item<double>();
    torch::Tensor col = z.select(1, d).detach();
    EXPECT_NEAR(col.mean().item<double>(), m, 5 * std::sqrt(v / n)) << d;
    // Var of the sample variance of a normal: 2 v^2 / (n - 1).
    EXPECT_NEAR(col.var().item<double>(), v, 5 * v * std::sqrt(2.0 / n)) << d;
  }
  // The log-variance convention: dz/dlogvar = 0.5 * sd * eps = 0.5 * (z - mu).
  z.sum().backward();
  EXPECT_TRUE(torch::allclose(q.mean.grad(), torch::ones_like(z)));
  EXPECT_TRUE(torch::allclose(q.log_variance.grad(), 0.5 * (z.detach() - q.mean.detach()),
                              1e-12, 1e-12));
  // Same seed, same draw.
  torch::Generator a = at::detail::createCPUGenerator(7), b = at::detail::createCPUGenerator(7);
  EXPECT_TRUE(torch::equal(cm::reparameterized_sample(q, a), cm::reparameterized_sample(q, b)));
}

// ---- KL terms -------------------------------------------------------------------------------

TEST(KlStandardNormal, MatchesClosedForm) {
  torch::Generator gen = at::detail::createCPUGenerator(1);
  cm::LatentPosterior q;
  q.z.mean = torch::randn({5, 4}, gen, kDouble) * 2.0;
  q.z.log_variance = torch::randn({5, 4}, gen, kDouble);
  auto prior = cm::make_prior(cm::PriorOptions{cm::PriorKind::standard_normal, 4});
  torch::Tensor kl = prior->kl(q);
  ASSERT_EQ(kl.sizes(), torch::IntArrayRef({5}));
  auto m = q.z.mean.accessor<double, 2>();
  auto lv = q.z.log_variance.accessor<double, 2>();
  for (int i = 0; i < 5; ++i) {
    double expected = 0;  // KL(N(m, s^2) || N(0, 1)) = log(1/s) + (s^2 + m^2)/2 - 1/2 per dim
    for (int d = 0; d < 4; ++d) {
      const double s2 = std::exp(lv[i][d]);
      expected += -0.5 * std::log(s2) + 0.5 * (s2 + m[i][d] * m[i][d]) - 0.5;
    }
    EXPECT_NEAR(kl[i].item<double>(), expected, 1e-12 * (1 + expected)) << i;
  }
}

TEST(KlStandardNormal, MatchesMonteCarlo) {
  torch::Generator gen = at::detail::createCPUGenerator(2);
  const std::int64_t cells = 3, d = 2, n = 200000;
  cm::LatentPosterior q;
  q.z.mean = torch::randn({cells, d}, gen, kDouble);
  q.z.log_variance = torch::randn({cells, d}, gen, kDouble) * 0.5;
  torch::Tensor kl = cm::StandardNormalPrior(d).kl(q);
  for (std::int64_t i = 0; i < cells; ++i) {
    torch::Tensor m = q.z.mean[i], lv = q.z.log_variance[i];
    torch::Tensor z = m + (0.5 * lv).exp() * torch::randn({n, d}, gen, kDouble);
    torch::Tensor log_ratio = log_normal(z, m, lv) - log_normal(z, torch::zeros_like(m),
                                                                torch::zeros_like(lv));
    auto [mc, se] = mean_and_se(log_ratio);
    EXPECT_NEAR(kl[i].item<double>(), mc, 5 * se) << "cell " << i << " se " << se;
  }
}

TEST(KlDiagonalGaussians, MatchesClosedFormWithBroadcasting) {
  torch::Generator gen = at::detail::createCPUGenerator(3);
  const int cells = 4, k = 3, d = 5;
  cm::DiagonalGaussian q{torch::randn({cells, k, d}, gen, kDouble),
                         torch::randn({cells, k, d}, gen, kDouble)};
  cm::DiagonalGaussian p{torch::randn({k, d}, gen, kDouble) * 2.0,
                         torch::randn({k, d}, gen, kDouble)};
  torch::Tensor kl = cm::kl_diagonal_gaussians(q, p);
  ASSERT_EQ(kl.sizes(), torch::IntArrayRef({cells, k}));
  auto mq = q.mean.accessor<double, 3>(), lq = q.log_variance.accessor<double, 3>();
  auto mp = p.mean.accessor<double, 2>(), lp = p.log_variance.accessor<double, 2>();
  for (int i = 0; i < cells; ++i)
    for (int c = 0; c < k; ++c) {
      // KL(N(a, s^2) || N(b, t^2)) = log(t/s) + (s^2 + (a-b)^2) / (2 t^2) - 1/2 per dimension.
      double expected = 0;
      for (int j = 0; j < d; ++j) {
        const double s2 = std::exp(lq[i][c][j]), t2 = std::exp(lp[c][j]);
        const double diff = mq[i][c][j] - mp[c][j];
        expected += 0.5 * std::log(t2 / s2) + (s2 + diff * diff) / (2 * t2) - 0.5;
      }
      EXPECT_NEAR(kl[i][c].item<double>(), expected, 1e-11 * (1 + std::abs(expected)));
    }
  // Against itself: zero.
  EXPECT_TRUE(torch::allclose(cm::kl_diagonal_gaussians(p, p), torch::zeros({k}, kDouble)));
}

// ---- Gaussian mixture prior -----------------------------------------------------------------

TEST(MixturePrior, OneComponentAtOriginEqualsStandardNormalKl) {
  torch::Generator gen = at::detail::createCPUGenerator(4);
  auto prior = make_mixture(1, 6, true, 9);
  {
    torch::NoGradGuard no_grad;
    prior->means.zero_();
    prior->log_variances.zero_();
    prior->logits.fill_(0.7);  // a single component: p(y) = 1 whatever the logit
  }
  cm::LatentPosterior q;
  q.z.mean = torch::randn({8, 1, 6}, gen, kDouble) * 2.0;
  q.z.log_variance = torch::randn({8, 1, 6}, gen, kDouble);
  q.component_logits = torch::randn({8, 1}, gen, kDouble);  // q(y) = 1
  torch::Tensor mixture = prior->kl(q);
  cm::LatentPosterior flat;
  flat.z = {q.z.mean.squeeze(1), q.z.log_variance.squeeze(1)};
  torch::Tensor normal = cm::StandardNormalPrior(6).kl(flat);
  EXPECT_TRUE(torch::equal(mixture, normal)) << (mixture - normal).abs().max().item<double>();
}

TEST(MixturePrior, KlMatchesMonteCarlo) {
  torch::Generator gen = at::detail::createCPUGenerator(5);
  const std::int64_t cells = 3, k = 3, d = 2, n = 400000;
  auto prior = make_mixture(k, d, true, 11);
  randomize(*prior, gen);
  cm::LatentPosterior q = random_mixture_posterior(cells, k, d, gen);
  torch::Tensor kl = prior->kl(q).detach();
  torch::Tensor log_p_y = torch::log_softmax(prior->logits.detach(), 0);
  for (std::int64_t i = 0; i < cells; ++i) {
    // Joint draws (y, z) ~ q(y|x) q(z|x,y); log q(y,z|x) - log p(y,z).
    torch::Tensor log_q_y = torch::log_softmax(q.component_logits[i], 0);
    torch::Tensor y = torch::multinomial(log_q_y.exp(), n, true, gen);
    torch::Tensor m = q.z.mean[i].index_select(0, y), lv = q.z.log_variance[i].index_select(0, y);
    torch::Tensor z = m + (0.5 * lv).exp() * torch::randn({n, d}, gen, kDouble);
    torch::Tensor log_ratio = log_q_y.index_select(0, y) + log_normal(z, m, lv) -
                              log_p_y.index_select(0, y) -
                              log_normal(z, prior->means.detach().index_select(0, y),
                                         prior->log_variances.detach().index_select(0, y));
    auto [mc, se] = mean_and_se(log_ratio);
    EXPECT_NEAR(kl[i].item<double>(), mc, 5 * se) << "cell " << i << " se " << se;
  }
}

TEST(MixturePrior, GradientsMatchFiniteDifferences) {
  torch::Generator gen = at::detail::createCPUGenerator(6);
  const std::int64_t cells = 4, k = 3, d = 2;
  auto prior = make_mixture(k, d, true, 12);
  randomize(*prior, gen);
  cm::LatentPosterior q = random_mixture_posterior(cells, k, d, gen);
  torch::Tensor weights = torch::rand({cells}, gen, kDouble);  // a generic scalar of the KLs
  auto loss = [&] { return (prior->kl(q) * weights).sum(); };
  prior->zero_grad();
  loss().backward();
  const double h = 1e-6;
  for (const char* name : {"means", "log_variances", "logits"}) {
    torch::Tensor param = prior->named_parameters()[name];
    torch::Tensor grad = param.grad();
    ASSERT_TRUE(grad.defined()) << name;
    EXPECT_GT(grad.abs().max().item<double>(), 0.0) << name;
    torch::Tensor flat = param.view({-1});
    for (std::int64_t j = 0; j < flat.numel(); ++j) {
      double plus = 0, minus = 0;
      {
        torch::NoGradGuard no_grad;
        const double orig = flat[j].item<double>();
        flat[j].fill_(orig + h);
        plus = loss().item<double>();
        flat[j].fill_(orig - h);
        minus = loss().item<double>();
        flat[j].fill_(orig);
      }
      const double fd = (plus - minus) / (2 * h);
      const double ad = grad.view({-1})[j].item<double>();
      EXPECT_NEAR(ad, fd, 1e-6 * (1 + std::abs(fd))) << name << "[" << j << "]";
    }
  }
}

TEST(MixturePrior, ResponsibilitiesPickNearestWellSeparatedComponent) {
  torch::Generator gen = at::detail::createCPUGenerator(7);
  auto prior = make_mixture(4, 2, false, 13);
  {
    torch::NoGradGuard no_grad;
    prior->means.copy_(torch::tensor({{10.0, 10.0}, {-10.0, 10.0}, {-10.0, -10.0}, {10.0, -10.0}},
                                     kDouble));
    prior->log_variances.zero_();
  }
  torch::Tensor truth = torch::randint(0, 4, {50}, gen, torch::kLong);
  torch::Tensor z = prior->means.detach().index_select(0, truth) +
                    torch::randn({50, 2}, gen, kDouble);
  torch::Tensor r = prior->responsibilities(z);
  ASSERT_EQ(r.sizes(), torch::IntArrayRef({50, 4}));
  EXPECT_TRUE(torch::allclose(r.sum(1), torch::ones({50}, kDouble), 1e-12, 1e-12));
  EXPECT_TRUE(torch::equal(r.argmax(1), truth));
  // Arbitrary points (far from everything too) still give rows summing to 1.
  torch::Tensor far = torch::randn({20, 2}, gen, kDouble) * 100.0;
  EXPECT_TRUE(torch::allclose(prior->responsibilities(far).sum(1), torch::ones({20}, kDouble)));
  // The standard normal has one component.
  EXPECT_TRUE(torch::equal(cm::StandardNormalPrior(2).responsibilities(z),
                           torch::ones({50, 1}, kDouble)));
}

TEST(MixturePrior, SamplesFromChosenComponentOrFromWeights) {
  torch::Generator gen = at::detail::createCPUGenerator(8);
  const std::int64_t n = 100000;
  auto prior = make_mixture(3, 2, true, 14);
  {
    torch::NoGradGuard no_grad;
    prior->means.copy_(torch::tensor({{5.0, 0.0}, {0.0, 5.0}, {-5.0, -5.0}}, kDouble));
    prior->log_variances.copy_(torch::tensor({{0.0, 0.0}, {std::log(4.0), 0.0}, {0.0, -1.0}},
                                             kDouble));
    prior->logits.copy_(torch::tensor({0.0, std::log(2.0), std::log(3.0)}, kDouble));
  }
  cm::PriorSample one = prior->sample(n, gen, 1);
  ASSERT_EQ(one.z.sizes(), torch::IntArrayRef({n, 2}));
  EXPECT_TRUE(torch::all(one.components == 1).item<bool>());
  EXPECT_FALSE(one.z.requires_grad());
  EXPECT_NEAR(one.z.select(1, 0).mean().item<double>(), 0.0, 5 * 2.0 / std::sqrt(n));
  EXPECT_NEAR(one.z.select(1, 1).mean().item<double>(), 5.0, 5 * 1.0 / std::sqrt(n));
  EXPECT_NEAR(one.z.select(1, 0).var().item<double>(), 4.0, 5 * 4.0 * std::sqrt(2.0 / n));

  cm::PriorSample all = prior->sample(n, gen);
  const double expected[3] = {1.0 / 6, 2.0 / 6, 3.0 / 6};
  for (int c = 0; c < 3; ++c) {
    const double freq = (all.components == c).to(torch::kDouble).mean().item<double>();
    EXPECT_NEAR(freq, expected[c], 5 * std::sqrt(expected[c] * (1 - expected[c]) / n)) << c;
  }
  // Each row lies near its own component's mean.
  torch::Tensor dist = (all.z - prior->means.detach().index_select(0, all.components)).norm(2, 1);
  EXPECT_LT(dist.max().item<double>(), 12.0);
  // Components overlap little: the responsibilities mostly recover the drawn component.
  const double agree = (prior->responsibilities(all.z).argmax(1) == all.components)
                           .to(torch::kDouble)
                           .mean()
                           .item<double>();
  EXPECT_GT(agree, 0.98);

  cm::PriorSample normal = cm::StandardNormalPrior(2).sample(n, gen);
  EXPECT_NEAR(normal.z.mean().item<double>(), 0.0, 5 / std::sqrt(2.0 * n));
  EXPECT_NEAR(normal.z.var().item<double>(), 1.0, 5 * std::sqrt(2.0 / (2.0 * n)));
}
