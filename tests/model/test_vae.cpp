// The VAE module: shapes and finiteness of the loss over the grid of likelihoods, libraries,
// priors and dispersions; the checkpoint names and ScviLike's architecture (shared/bench/
// ref_torch.py); reproducible initialisation and exact save/load; the mixture's marginalisation
// over y; covariates (CVAE); the latent library's prior; gradients of the loss against finite
// differences in double; importance-sampled log p(x) against exact marginals of linear-Gaussian
// models (standard normal and mixture priors) and against the ELBO; Prior::log_density.
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "cellvae/error.hpp"
#include "cellvae/model/vae.hpp"
#include "gradient_check.hpp"
#include "test_support.hpp"

namespace cvt = cellvae::testing;
namespace cm = cellvae::model;

namespace {

constexpr double kLog2Pi = 1.8378770664093454836;
const auto kDouble = torch::TensorOptions().dtype(torch::kDouble);

torch::Generator generator(std::uint64_t seed) { return at::detail::createCPUGenerator(seed); }

// 12 genes, 3 labels, 2 batches, one hidden layer of 16 with batch norm, D = 3, K = 3.
cm::ModelConfig small_config(cm::LikelihoodKind likelihood = cm::LikelihoodKind::zinb,
                             cm::LibraryKind library = cm::LibraryKind::observed,
                             cm::PriorKind prior = cm::PriorKind::standard_normal) {
  cm::ModelConfig c;
  c.n_genes = 12;
  c.n_labels = 3;
  c.n_batches = 2;
  c.encoder_hidden = {16};
  c.decoder_hidden = {16};
  c.latent_dim = 3;
  c.components = 3;
  c.prior = prior;
  c.library = library;
  c.likelihood = likelihood;
  c.input =
      likelihood == cm::LikelihoodKind::bernoulli ? cm::InputKind::identity : cm::InputKind::log1p;
  c.seed = 11;
  return c;
}

// Data the config's likelihood models: counts, values in [0, 1] (bernoulli) or reals
// (gaussian with identity input); label and batch codes when configured.
cm::CellBatch make_batch(const cm::ModelConfig& c, std::int64_t cells, std::uint64_t seed,
                         torch::Dtype dtype = torch::kFloat) {
  torch::Generator gen = generator(seed);
  cm::CellBatch b;
  const auto fo = torch::TensorOptions().dtype(dtype);
  if (c.likelihood == cm::LikelihoodKind::bernoulli) {
    b.x = torch::rand({cells, c.n_genes}, gen, fo);
  } else if (c.likelihood == cm::LikelihoodKind::gaussian && c.input == cm::InputKind::identity) {
    b.x = torch::randn({cells, c.n_genes}, gen, fo);
  } else {
    torch::Tensor rate = torch::exp(torch::randn({cells, c.n_genes}, gen, fo) + 1.0);
    b.x = torch::poisson(rate, gen);
  }
  const auto lo = torch::TensorOptions().dtype(torch::kLong);
  if (c.n_labels > 0) b.labels = torch::randint(0, c.n_labels, {cells}, gen, lo);
  if (c.n_batches > 0) b.batches = torch::randint(0, c.n_batches, {cells}, gen, lo);
  return b;
}

// The rows of `b` repeated `times` times, cell-major: rows i*times .. are cell i.
cm::CellBatch repeat_cells(const cm::CellBatch& b, std::int64_t times) {
  cm::CellBatch r;
  r.x = b.x.repeat_interleave(times, 0);
  if (b.labels.defined()) r.labels = b.labels.repeat_interleave(times, 0);
  if (b.batches.defined()) r.batches = b.batches.repeat_interleave(times, 0);
  return r;
}

std::map<std::string, torch::Tensor> named_state(torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : m.named_parameters()) out[p.key()] = p.value();
  for (const auto& p : m.named_buffers()) out[p.key()] = p.value();
  return out;
}

torch::Tensor param(cm::Vae& model, const std::string& name) {
  auto params = model->named_parameters();
  if (!params.contains(name)) {
    ADD_FAILURE() << "no parameter " << name;
    return {};
  }
  return params[name];
}

void set_param(cm::Vae& model, const std::string& name, const torch::Tensor& value) {
  torch::NoGradGuard no_grad;
  torch::Tensor p = param(model, name);
  ASSERT_EQ(p.sizes(), value.sizes()) << name;
  p.copy_(value);
}

bool all_finite(const torch::Tensor& t) { return torch::isfinite(t).all().item<bool>(); }

// Mean and standard error of the mean of a 1-d tensor.
std::pair<double, double> mean_and_se(const torch::Tensor& x) {
  return {x.mean().item<double>(),
          x.std().item<double>() / std::sqrt(static_cast<double>(x.numel()))};
}

// log N(x; mean, cov) of each row of x, by Cholesky, in double.
torch::Tensor mvn_log_density(const torch::Tensor& x, const torch::Tensor& mean,
                              const torch::Tensor& cov) {
  torch::Tensor l = torch::linalg_cholesky(cov);
  torch::Tensor r = (x - mean).t();  // G x cells
  torch::Tensor y = torch::linalg_solve_triangular(l, r, /*upper=*/false);
  const double g = static_cast<double>(x.size(1));
  return -0.5 * (g * kLog2Pi + 2.0 * torch::log(torch::diagonal(l)).sum() + (y * y).sum(0));
}

}  // namespace

// ---- the grid
// ------------------------------------------------------------------------------------

TEST(Vae, LossTermsOverTheGridOfConfigurations) {
  using L = cm::LikelihoodKind;
  using Lib = cm::LibraryKind;
  using D = cm::DispersionKind;
  const std::int64_t cells = 6;
  int models = 0;
  for (L lik : {L::bernoulli, L::gaussian, L::poisson, L::nb, L::zip, L::zinb}) {
    const bool counts = cm::is_count_likelihood(lik);
    const std::vector<Lib> libraries = counts
                                           ? std::vector<Lib>{Lib::none, Lib::observed, Lib::latent}
                                           : std::vector<Lib>{Lib::none};
    const bool tables = cm::has_dispersion(lik) || lik == L::gaussian;
    const std::vector<D> dispersions =
        tables ? std::vector<D>{D::gene, D::gene_batch, D::gene_label, D::cell}
               : std::vector<D>{D::gene};
    for (Lib lib : libraries)
      for (cm::PriorKind prior : {cm::PriorKind::standard_normal, cm::PriorKind::gaussian_mixture})
        for (D dispersion : dispersions) {
          cm::ModelConfig c = small_config(lik, lib, prior);
          c.dispersion = dispersion;
          const std::string label =
              std::string(cm::to_string(lik)) + "/" + std::string(cm::to_string(lib)) + "/" +
              std::string(cm::to_string(prior)) + "/" + std::string(cm::to_string(dispersion));
          SCOPED_TRACE(label);
          cm::Vae model(c);
          ++models;
          if (lib == Lib::latent)
            model->set_library_prior(torch::tensor({2.5f, 3.0f}), torch::tensor({0.5f, 0.8f}));
          const cm::CellBatch batch = make_batch(c, cells, 3);
          torch::Generator gen = generator(5);
          const cm::LossTerms t = model->loss(batch, gen, 0.5);
          for (const torch::Tensor* v : {&t.reconstruction, &t.kl_z, &t.kl_library, &t.loss}) {
            ASSERT_TRUE(v->defined());
            EXPECT_EQ(v->sizes(), torch::IntArrayRef({cells}));
            EXPECT_TRUE(all_finite(*v));
          }
          EXPECT_GE(t.kl_z.min().item<double>(), -1e-5);
          if (lib == Lib::latent)
            EXPECT_GT(t.kl_library.min().item<double>(), 0.0);
          else
            EXPECT_EQ(t.kl_library.abs().max().item<double>(), 0.0);
          EXPECT_TRUE(torch::allclose(t.loss, t.reconstruction + t.kl_library + 0.5 * t.kl_z));

          // Every trainable parameter is reached by the loss (nothing registered is dead).
          t.loss.mean().backward();
          for (const auto& p : model->named_parameters()) {
            if (!p.value().requires_grad()) continue;
            SCOPED_TRACE(p.key());
            ASSERT_TRUE(p.value().grad().defined());
            EXPECT_TRUE(all_finite(p.value().grad()));
            // Biases in front of batch norm get no gradient (the normalisation removes them).
            if (p.key().find("linear.bias") == std::string::npos) {
              EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0);
            }
          }

          // The parts registered are those the configuration needs.
          auto params = model->named_parameters();
          const bool table = dispersion != D::cell;
          EXPECT_EQ(params.contains("log_dispersion"), cm::has_dispersion(lik) && table);
          EXPECT_EQ(params.contains("dispersion_head.weight"), cm::has_dispersion(lik) && !table);
          EXPECT_EQ(params.contains("zero_head.weight"), cm::is_zero_inflated(lik));
          EXPECT_EQ(params.contains("log_scale"), lik == L::gaussian && table);
          EXPECT_EQ(params.contains("log_scale.weight"), lik == L::gaussian && !table);
          EXPECT_EQ(params.contains("library_mean.weight"), lib == Lib::latent);
          EXPECT_EQ(model->named_buffers().contains("library_prior_mean"), lib == Lib::latent);
          const bool mixture = prior == cm::PriorKind::gaussian_mixture;
          EXPECT_EQ(params.contains("component_logits.weight"), mixture);
          EXPECT_EQ(params.contains("component_embedding"), mixture);
          EXPECT_EQ(params.contains("prior.means"), mixture);
          if (params.contains("log_dispersion") || params.contains("log_scale")) {
            const torch::Tensor tab =
                params.contains("log_dispersion") ? params["log_dispersion"] : params["log_scale"];
            const std::vector<std::int64_t> expected =
                dispersion == D::gene         ? std::vector<std::int64_t>{12}
                : dispersion == D::gene_batch ? std::vector<std::int64_t>{2, 12}
                                              : std::vector<std::int64_t>{3, 12};
            EXPECT_EQ(tab.sizes(), torch::IntArrayRef(expected));
          }

          // Posterior summaries.
          EXPECT_EQ(model->latent_mean(batch).sizes(), torch::IntArrayRef({cells, 3}));
          const torch::Tensor q_y = model->component_probabilities(batch);
          EXPECT_EQ(q_y.sizes(), torch::IntArrayRef({cells, mixture ? 3 : 1}));
          EXPECT_TRUE(torch::allclose(q_y.sum(1), torch::ones({cells})));
          EXPECT_EQ(model->log_library(batch).sizes(), torch::IntArrayRef({cells, 1}));
        }
  }
  EXPECT_EQ(models, 2 * (1 + 4 + 3 + 3 * 4 + 3 + 3 * 4));
}

// ---- architecture
// --------------------------------------------------------------------------------

TEST(Vae, DefaultConfigHasScviLikesArchitecture) {
  // ScviLike(n_genes, n_batch=2, n_hidden=128, n_latent=10, latent_library) in ref_torch.py.
  const std::int64_t g = 50;
  for (bool latent : {false, true}) {
    cm::ModelConfig c;
    c.n_genes = g;
    c.n_batches = 2;
    if (latent) c.library = cm::LibraryKind::latent;
    cm::Vae model(c);
    std::map<std::string, std::vector<std::int64_t>> expected{
        {"encoder.layers.0.linear.weight", {128, g}},
        {"encoder.layers.0.linear.bias", {128}},
        {"encoder.layers.0.norm.weight", {128}},
        {"encoder.layers.0.norm.bias", {128}},
        {"z_mean.weight", {10, 128}},
        {"z_mean.bias", {10}},
        {"z_log_variance.weight", {10, 128}},
        {"z_log_variance.bias", {10}},
        {"decoder.layers.0.linear.weight", {128, 10 + 2}},
        {"decoder.layers.0.linear.bias", {128}},
        {"decoder.layers.0.norm.weight", {128}},
        {"decoder.layers.0.norm.bias", {128}},
        {"mean_head.weight", {g, 128}},
        {"mean_head.bias", {g}},
        {"zero_head.weight", {g, 128}},
        {"zero_head.bias", {g}},
        {"log_dispersion", {g}},
    };
    if (latent) {
      expected["library_encoder.layers.0.linear.weight"] = {128, g};
      expected["library_encoder.layers.0.linear.bias"] = {128};
      expected["library_encoder.layers.0.norm.weight"] = {128};
      expected["library_encoder.layers.0.norm.bias"] = {128};
      expected["library_mean.weight"] = {1, 128};
      expected["library_mean.bias"] = {1};
      expected["library_log_variance.weight"] = {1, 128};
      expected["library_log_variance.bias"] = {1};
    }
    std::map<std::string, std::vector<std::int64_t>> got;
    std::int64_t n_params = 0;
    for (const auto& p : model->named_parameters()) {
      got[p.key()] = p.value().sizes().vec();
      n_params += p.value().numel();
    }
    EXPECT_EQ(got, expected);
    // ScviLike's parameter count: enc + z heads + dec + dec_scale + dec_pi + log_theta (+ l_*).
    const std::int64_t h = 128, d = 10;
    std::int64_t ref =
        (g * h + h + 2 * h) + 2 * (h * d + d) + ((d + 2) * h + h + 2 * h) + 2 * (h * g + g) + g;
    if (latent) ref += (g * h + h + 2 * h) + 2 * (h + 1);
    EXPECT_EQ(n_params, ref);
    std::set<std::string> buffers;
    for (const auto& b : model->named_buffers()) buffers.insert(b.key());
    EXPECT_EQ(buffers.count("library_prior_mean"), latent ? 1u : 0u);
    EXPECT_EQ(buffers.count("library_prior_variance"), latent ? 1u : 0u);
  }
}

TEST(Vae, DecoderMeanIsLibraryTimesSoftmaxAndThetaIsExpLogDispersion) {
  cm::ModelConfig c = small_config(cm::LikelihoodKind::zinb, cm::LibraryKind::observed);
  cm::Vae model(c);
  model->eval();
  const cm::CellBatch batch = make_batch(c, 5, 1);
  torch::NoGradGuard no_grad;
  const torch::Tensor z = torch::randn({5, 3});
  const torch::Tensor log_lib = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f, 5.0f}).reshape({5, 1});
  const cm::LikelihoodParams p = model->decode(z, log_lib, batch.labels, batch.batches);
  EXPECT_TRUE(torch::allclose(p.mean.sum(1, true), log_lib.exp(), 1e-5));
  EXPECT_TRUE(
      torch::equal(p.inverse_dispersion, param(model, "log_dispersion").exp().unsqueeze(0)));
  EXPECT_EQ(p.zero_logits.sizes(), torch::IntArrayRef({5, 12}));

  // Without a library the count mean is exp(head); bernoulli: sigmoid(head); gaussian: head.
  c.library = cm::LibraryKind::none;
  cm::Vae none(c);
  none->eval();
  const cm::LikelihoodParams pn = none->decode(z, {}, batch.labels, batch.batches);
  c.likelihood = cm::LikelihoodKind::bernoulli;
  c.input = cm::InputKind::identity;
  cm::Vae bern(c);
  bern->eval();
  c.likelihood = cm::LikelihoodKind::gaussian;
  cm::Vae gauss(c);
  gauss->eval();
  // Same seed and the same layers before the heads: equal heads.
  const torch::Tensor head = gauss->decode(z, {}, batch.labels, batch.batches).mean;
  EXPECT_TRUE(torch::allclose(pn.mean, head.exp(), 1e-5));
  EXPECT_TRUE(torch::allclose(bern->decode(z, {}, batch.labels, batch.batches).mean,
                              torch::sigmoid(head), 1e-6));
}

// zi_expected_library: the zero-inflated mean is rescaled so that the expected total count,
// Σ (1 − π) μ, is the library; scVI's mean expects less. The same weights otherwise.
TEST(Vae, ZeroInflatedMeanCanExpectTheWholeLibrary) {
  for (auto kind : {cm::LikelihoodKind::zinb, cm::LikelihoodKind::zip}) {
    cm::ModelConfig c = small_config(kind, cm::LibraryKind::observed);
    cm::Vae plain(c);
    c.zi_expected_library = true;
    cm::Vae scaled(c);
    plain->eval();
    scaled->eval();
    const cm::CellBatch batch = make_batch(c, 5, 1);
    torch::NoGradGuard no_grad;
    const torch::Tensor z = torch::randn({5, 3});
    const torch::Tensor log_lib = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f, 5.0f}).reshape({5, 1});
    const cm::LikelihoodParams p = plain->decode(z, log_lib, batch.labels, batch.batches);
    const cm::LikelihoodParams q = scaled->decode(z, log_lib, batch.labels, batch.batches);
    const auto expected_total = [](const cm::LikelihoodParams& t) {
      return (torch::sigmoid(-t.zero_logits) * t.mean).sum(1, true);
    };
    EXPECT_TRUE(torch::allclose(expected_total(q), log_lib.exp(), 1e-5));
    EXPECT_TRUE((expected_total(p) < log_lib.exp()).all().item<bool>());
    EXPECT_TRUE(torch::equal(p.zero_logits, q.zero_logits));
    // Proportional means: the rescaling is one factor per cell.
    const torch::Tensor ratio = q.mean / p.mean;
    EXPECT_TRUE(torch::allclose(ratio, ratio.select(1, 0).unsqueeze(1).expand_as(ratio), 1e-5));
  }
}

TEST(Vae, CovariatesEnterEveryLayerWhenAsked) {
  cm::ModelConfig c = small_config();
  c.decoder_hidden = {16, 8};
  c.decoder_injection = cm::CovariateInjection::every_layer;
  c.batches_in_encoder = true;
  c.encoder_hidden = {16, 8};
  cm::Vae model(c);
  auto params = model->named_parameters();
  EXPECT_EQ(params["decoder.layers.0.linear.weight"].sizes(), torch::IntArrayRef({16, 3 + 5}));
  EXPECT_EQ(params["decoder.layers.1.linear.weight"].sizes(), torch::IntArrayRef({8, 16 + 5}));
  EXPECT_EQ(params["encoder.layers.0.linear.weight"].sizes(), torch::IntArrayRef({16, 12 + 5}));
  EXPECT_EQ(params["encoder.layers.1.linear.weight"].sizes(), torch::IntArrayRef({8, 16}));
  // Linear encoder and decoder: the covariates enter the heads.
  c.encoder_hidden = {};
  c.decoder_hidden = {};
  cm::Vae linear(c);
  auto lp = linear->named_parameters();
  EXPECT_EQ(lp["z_mean.weight"].sizes(), torch::IntArrayRef({3, 12 + 5}));
  EXPECT_EQ(lp["mean_head.weight"].sizes(), torch::IntArrayRef({12, 3 + 5}));
}

// ---- covariates
// ----------------------------------------------------------------------------------

TEST(Vae, ConditionalDecoderDependsOnLabelsAndBatches) {
  for (const std::vector<std::int64_t>& hidden :
       {std::vector<std::int64_t>{16}, std::vector<std::int64_t>{}}) {
    SCOPED_TRACE(hidden.empty() ? "linear decoder" : "one hidden layer");
    cm::ModelConfig c = small_config(cm::LikelihoodKind::nb);
    c.decoder_hidden = hidden;
    cm::Vae model(c);
    model->eval();
    torch::NoGradGuard no_grad;
    const torch::Tensor z = torch::randn({4, 3}, generator(2));
    const torch::Tensor lib = torch::full({4, 1}, 5.0);
    const auto zeros = torch::zeros({4}, torch::kLong), ones = torch::ones({4}, torch::kLong);
    const torch::Tensor a = model->decode(z, lib, zeros, zeros).mean;
    EXPECT_TRUE(torch::equal(a, model->decode(z, lib, zeros, zeros).mean));
    const torch::Tensor by_label = model->decode(z, lib, ones, zeros).mean;
    const torch::Tensor by_batch = model->decode(z, lib, zeros, ones).mean;
    EXPECT_GT((a - by_label).abs().max().item<double>(), 1e-4);
    EXPECT_GT((a - by_batch).abs().max().item<double>(), 1e-4);
  }
}

TEST(Vae, EncoderSeesCovariatesOnlyWhenConfigured) {
  cm::ModelConfig c = small_config();
  c.labels_in_encoder = true;
  c.batches_in_encoder = false;
  cm::Vae model(c);
  cm::CellBatch b = make_batch(c, 4, 9);
  cm::CellBatch other_labels = b, other_batches = b;
  other_labels.labels = (b.labels + 1) % 3;
  other_batches.batches = (b.batches + 1) % 2;
  const torch::Tensor m = model->latent_mean(b);
  EXPECT_GT((m - model->latent_mean(other_labels)).abs().max().item<double>(), 1e-5);
  EXPECT_TRUE(torch::equal(m, model->latent_mean(other_batches)));
}

TEST(Vae, CovariateCodesAreChecked) {
  cm::ModelConfig c = small_config();
  cm::Vae model(c);
  torch::Generator gen = generator(1);
  cm::CellBatch b = make_batch(c, 4, 2);
  cm::CellBatch missing = b;
  missing.labels = torch::Tensor();
  EXPECT_EQ(cvt::error_of([&] { model->loss(missing, gen); }),
            "the model has 3 label categories but the batch has no label codes");
  cm::CellBatch bad = b;
  bad.batches = torch::tensor({0, 1, 2, 0}, torch::kLong);
  EXPECT_EQ(cvt::error_of([&] { model->loss(bad, gen); }), "batch code 2 of cell 2 outside [0, 2)");
  bad = b;
  bad.labels = torch::tensor({0, -1, 2, 0}, torch::kLong);
  EXPECT_EQ(cvt::error_of([&] { model->latent_mean(bad); }),
            "label code -1 of cell 1 outside [0, 3)");
  bad = b;
  bad.labels = torch::tensor({0, 1, 2}, torch::kLong);
  EXPECT_TRUE(cvt::error_of([&] { model->loss(bad, gen); }).find("one per cell (4)") !=
              std::string::npos);
  bad = b;
  bad.x = torch::zeros({4, 11});
  EXPECT_EQ(cvt::error_of([&] { model->loss(bad, gen); }),
            "x must be cells x 12 (the model's genes), got 4 x 11");
  EXPECT_EQ(cvt::error_of([&] {
              model->decode(torch::zeros({4, 2}), torch::zeros({4, 1}), b.labels, b.batches);
            }),
            "z must be cells x 3 (the latent dimension), got 4 x 2");
  EXPECT_TRUE(cvt::error_of([&] {
                model->decode(torch::zeros({4, 3}), {}, b.labels, b.batches);
              }).find("library 'observed' needs one log library per cell") != std::string::npos);
  EXPECT_EQ(cvt::error_of([&] { model->marginal_log_likelihood(b, 0, gen); }),
            "importance samples must be >= 1 (got 0)");
  EXPECT_THROW(model->loss(b, gen, -1.0), std::invalid_argument);

  // Codes of covariates the model does not use are ignored.
  c.n_labels = 0;
  c.n_batches = 0;
  cm::Vae plain(c);
  EXPECT_NO_THROW(plain->loss(b, gen));
}

// ---- reproducibility and checkpoints
// -------------------------------------------------------------

TEST(Vae, EqualConfigsGiveIdenticalWeights) {
  const cm::ModelConfig c = small_config(cm::LikelihoodKind::zinb, cm::LibraryKind::latent,
                                         cm::PriorKind::gaussian_mixture);
  cm::Vae a(c);
  torch::randn({100});  // the global generator moves on in between
  cm::Vae b(c);
  const auto sa = named_state(*a), sb = named_state(*b);
  ASSERT_EQ(sa.size(), sb.size());
  for (const auto& [name, t] : sa) {
    ASSERT_TRUE(sb.count(name)) << name;
    EXPECT_TRUE(torch::equal(t, sb.at(name))) << name;
  }
  cm::ModelConfig other = c;
  other.seed = 12;
  cm::Vae d(other);
  const auto sd = named_state(*d);
  EXPECT_FALSE(torch::equal(sa.at("z_mean.weight"), sd.at("z_mean.weight")));
  EXPECT_FALSE(torch::equal(sa.at("prior.means"), sd.at("prior.means")));
  EXPECT_FALSE(torch::equal(sa.at("log_dispersion"), sd.at("log_dispersion")));
}

TEST(Vae, SaveAndLoadRestoreBitIdenticalOutputs) {
  cvt::ScratchDir dir;
  const cm::ModelConfig c = small_config(cm::LikelihoodKind::zinb, cm::LibraryKind::latent,
                                         cm::PriorKind::gaussian_mixture);
  cm::Vae model(c);
  model->set_library_prior(torch::tensor({6.0f, 7.5f}), torch::tensor({0.3f, 0.6f}));
  const cm::CellBatch batch = make_batch(c, 8, 4);
  {
    // One training step: weights and batch-norm statistics move away from the initial ones.
    torch::Generator gen = generator(1);
    model->train();
    model->loss(batch, gen).loss.mean().backward();
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters())
      if (p.grad().defined()) p.sub_(0.05 * p.grad());
  }
  const auto path = (dir / "vae.pt").string();
  torch::save(model, path);

  cm::Vae loaded(c);
  const torch::Tensor before = loaded->latent_mean(batch);
  const torch::Tensor mean = model->latent_mean(batch);
  EXPECT_FALSE(torch::equal(before, mean));  // the test can tell them apart
  torch::load(loaded, path);

  const auto sa = named_state(*model), sb = named_state(*loaded);
  for (const auto& [name, t] : sa) EXPECT_TRUE(torch::equal(t, sb.at(name))) << name;
  EXPECT_TRUE(torch::equal(mean, loaded->latent_mean(batch)));
  EXPECT_TRUE(
      torch::equal(model->component_probabilities(batch), loaded->component_probabilities(batch)));
  EXPECT_TRUE(torch::equal(model->log_library(batch), loaded->log_library(batch)));
  model->eval();
  loaded->eval();
  torch::NoGradGuard no_grad;
  const cm::LikelihoodParams pa =
      model->decode(mean, model->log_library(batch), batch.labels, batch.batches);
  const cm::LikelihoodParams pb =
      loaded->decode(mean, loaded->log_library(batch), batch.labels, batch.batches);
  EXPECT_TRUE(torch::equal(pa.mean, pb.mean));
  EXPECT_TRUE(torch::equal(pa.inverse_dispersion, pb.inverse_dispersion));
  EXPECT_TRUE(torch::equal(pa.zero_logits, pb.zero_logits));
  torch::Generator g1 = generator(3), g2 = generator(3);
  EXPECT_TRUE(torch::equal(model->loss(batch, g1).loss, loaded->loss(batch, g2).loss));
}

// ---- posterior summaries
// -------------------------------------------------------------------------

TEST(Vae, LatentMeanIsTheWeightedComponentMeanAndRestoresTheMode) {
  const cm::ModelConfig c = small_config(cm::LikelihoodKind::nb, cm::LibraryKind::observed,
                                         cm::PriorKind::gaussian_mixture);
  cm::Vae model(c);
  {
    torch::NoGradGuard no_grad;
    param(model, "component_embedding").copy_(torch::randn({3, 3}, generator(8)));
  }
  const cm::CellBatch batch = make_batch(c, 5, 6);
  model->train();
  const torch::Tensor m = model->latent_mean(batch);
  const torch::Tensor q_y = model->component_probabilities(batch);
  EXPECT_TRUE(model->is_training());
  model->eval();
  torch::NoGradGuard no_grad;
  const cm::Encoding e = model->encode(batch);
  EXPECT_TRUE(torch::allclose(q_y, torch::softmax(e.z.component_logits, 1)));
  torch::Tensor expected = torch::zeros({5, 3});
  for (int k = 0; k < 3; ++k)
    expected += q_y.index({torch::indexing::Slice(), k}).unsqueeze(1) *
                e.z.z.mean.index({torch::indexing::Slice(), k});
  EXPECT_TRUE(torch::allclose(m, expected, 1e-5, 1e-6));
  // The components differ by their embeddings only.
  EXPECT_TRUE(torch::allclose(
      e.z.z.mean.index({torch::indexing::Slice(), 1}) -
          e.z.z.mean.index({torch::indexing::Slice(), 0}),
      (param(model, "component_embedding")[1] - param(model, "component_embedding")[0])
          .expand({5, 3}),
      1e-5, 1e-6));
}

TEST(Vae, LogLibraryObservedOverrideAndLatent) {
  cm::ModelConfig c = small_config(cm::LikelihoodKind::poisson, cm::LibraryKind::observed);
  cm::Vae observed(c);
  cm::CellBatch b = make_batch(c, 4, 3);
  b.x[2].zero_();  // an empty cell: library 1
  const torch::Tensor expected = torch::log(b.x.sum(1, true).clamp_min(1.0));
  EXPECT_TRUE(torch::allclose(observed->log_library(b), expected));
  EXPECT_EQ(observed->log_library(b)[2].item<float>(), 0.0f);
  cm::CellBatch over = b;
  over.log_library = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f});
  EXPECT_TRUE(torch::allclose(observed->log_library(over), over.log_library.reshape({4, 1})));
  // The override changes the loss (it is what the decoder scales by).
  torch::Generator g1 = generator(2), g2 = generator(2);
  EXPECT_FALSE(torch::allclose(observed->loss(b, g1).reconstruction,
                               observed->loss(over, g2).reconstruction));

  c.library = cm::LibraryKind::none;
  cm::Vae none(c);
  EXPECT_TRUE(torch::equal(none->log_library(b), torch::zeros({4, 1})));

  c.library = cm::LibraryKind::latent;
  cm::Vae latent(c);
  latent->train();
  const torch::Tensor l = latent->log_library(b);
  EXPECT_TRUE(latent->is_training());
  latent->eval();
  EXPECT_TRUE(torch::allclose(l, latent->encode(b).library.mean));
}

// ---- the mixture's marginalisation over y
// --------------------------------------------------------

TEST(Vae, MixtureReconstructionWeighsOneDrawPerComponent) {
  const cm::ModelConfig c = small_config(cm::LikelihoodKind::nb, cm::LibraryKind::observed,
                                         cm::PriorKind::gaussian_mixture);
  cm::Vae model(c);
  {
    torch::NoGradGuard no_grad;
    param(model, "component_embedding").copy_(torch::randn({3, 3}, generator(8)) * 2);
  }
  model->eval();
  const cm::CellBatch batch = make_batch(c, 5, 6);
  torch::Generator gen = generator(21);
  const cm::LossTerms t = model->loss(batch, gen);

  torch::NoGradGuard no_grad;
  const cm::Encoding e = model->encode(batch);
  torch::Generator again = generator(21);
  const torch::Tensor z = cm::reparameterized_sample(e.z.z, again);  // the same draws
  const torch::Tensor lib = model->log_library(batch);
  const torch::Tensor q_y = torch::softmax(e.z.component_logits, 1);
  torch::Tensor expected = torch::zeros({5});
  for (int k = 0; k < 3; ++k) {
    const cm::LikelihoodParams p =
        model->decode(z.index({torch::indexing::Slice(), k}), lib, batch.labels, batch.batches);
    expected -= q_y.index({torch::indexing::Slice(), k}) *
                model->likelihood().log_prob_per_cell(batch.x, p);
  }
  EXPECT_TRUE(torch::allclose(t.reconstruction, expected, 1e-5, 1e-4));
  EXPECT_TRUE(torch::allclose(t.kl_z, model->prior().kl(e.z), 1e-5, 1e-5));
}

TEST(Vae, OneComponentMixtureAtTheOriginIsTheStandardNormalModel) {
  // K = 1 with p(z|y) = N(0, I) and zero embeddings: q(y|x) = 1, the KL of y vanishes and the
  // mixture model computes exactly what the standard-normal model does with the same weights.
  cm::ModelConfig c = small_config(cm::LikelihoodKind::zinb, cm::LibraryKind::latent);
  cm::Vae normal(c);
  c.prior = cm::PriorKind::gaussian_mixture;
  c.components = 1;
  cm::Vae mixture(c);
  {
    torch::NoGradGuard no_grad;
    auto target = named_state(*mixture);
    for (const auto& [name, t] : named_state(*normal)) target.at(name).copy_(t);
    param(mixture, "prior.means").zero_();
  }
  const torch::Tensor prior = torch::tensor({3.0f, 3.5f}), var = torch::tensor({0.4f, 0.2f});
  normal->set_library_prior(prior, var);
  mixture->set_library_prior(prior, var);
  normal->eval();
  mixture->eval();
  const cm::CellBatch batch = make_batch(c, 6, 12);
  torch::Generator g1 = generator(4), g2 = generator(4);
  const cm::LossTerms a = normal->loss(batch, g1, 0.3), b = mixture->loss(batch, g2, 0.3);
  EXPECT_TRUE(torch::allclose(a.reconstruction, b.reconstruction, 1e-5, 1e-4));
  EXPECT_TRUE(torch::allclose(a.kl_z, b.kl_z, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(a.kl_library, b.kl_library, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(a.loss, b.loss, 1e-5, 1e-4));
  EXPECT_TRUE(torch::allclose(normal->latent_mean(batch), mixture->latent_mean(batch)));
  // And the mixture's prior moves the KL when it does not sit at the origin.
  {
    torch::NoGradGuard no_grad;
    param(mixture, "prior.means").fill_(0.5);
  }
  torch::Generator g3 = generator(4);
  EXPECT_FALSE(torch::allclose(a.kl_z, mixture->loss(batch, g3, 0.3).kl_z));
}

// ---- the latent library
// ---------------------------------------------------------------------------

TEST(Vae, LatentLibraryKlUsesTheCellsBatchPrior) {
  const cm::ModelConfig c = small_config(cm::LikelihoodKind::zinb, cm::LibraryKind::latent);
  cm::Vae model(c);
  model->eval();
  const cm::CellBatch batch = make_batch(c, 8, 5);
  for (const auto& [pm, pv] : {std::pair{torch::tensor({5.0, 7.0}), torch::tensor({0.4, 0.9})},
                               std::pair{torch::tensor({5.0, 7.0}), torch::tensor({0.0, 0.9})}}) {
    model->set_library_prior(pm, pv);
    torch::Generator gen = generator(3);
    const torch::Tensor kl = model->loss(batch, gen).kl_library.to(torch::kDouble);
    torch::NoGradGuard no_grad;
    const cm::Encoding e = model->encode(batch);
    const torch::Tensor m = e.library.mean.squeeze(1).to(torch::kDouble);
    const torch::Tensor lv = e.library.log_variance.squeeze(1).to(torch::kDouble);
    const torch::Tensor prior_m = pm.index_select(0, batch.batches);
    const torch::Tensor prior_v = pv.index_select(0, batch.batches).clamp_min(1e-4);
    const torch::Tensor expected =
        0.5 * (torch::log(prior_v) - lv + (lv.exp() + (m - prior_m).pow(2)) / prior_v - 1.0);
    EXPECT_TRUE(all_finite(kl));
    EXPECT_TRUE(torch::allclose(kl, expected, 1e-4, 1e-3)) << kl << expected;
  }
  // One entry applies to every batch.
  model->set_library_prior(torch::tensor({4.0}), torch::tensor({0.5}));
  EXPECT_TRUE(
      torch::equal(model->named_buffers()["library_prior_mean"], torch::tensor({4.0f, 4.0f})));
}

TEST(Vae, SetLibraryPriorRejectsBadInput) {
  cm::Vae model(small_config(cm::LikelihoodKind::zinb, cm::LibraryKind::latent));
  EXPECT_TRUE(cvt::error_of([&] {
                model->set_library_prior(torch::zeros({3}), torch::ones({3}));
              }).find("must have 2 entries") != std::string::npos);
  EXPECT_TRUE(cvt::error_of([&] {
                model->set_library_prior(torch::tensor({1.0, std::nan("")}), torch::ones({2}));
              }).find("non-finite") != std::string::npos);
  EXPECT_EQ(cvt::error_of([&] {
              model->set_library_prior(torch::ones({2}), torch::tensor({1.0, -1.0}));
            }),
            "library prior variance must be >= 0");
  cm::Vae observed(small_config());
  EXPECT_THROW(observed->set_library_prior(torch::ones({2}), torch::ones({2})), std::logic_error);
}

// ---- gradients
// -----------------------------------------------------------------------------------

namespace {

void check_gradients(const cm::ModelConfig& c, const std::vector<std::string>& names,
                     const std::string& label) {
  cm::Vae model(c);
  model->to(torch::kDouble);
  if (c.library == cm::LibraryKind::latent)
    model->set_library_prior(torch::tensor({2.0, 2.5}), torch::tensor({0.3, 0.7}));
  {
    // Away from the initial values (zero embeddings, uniform logits): a generic point.
    torch::NoGradGuard no_grad;
    torch::Generator g = generator(17);
    for (const auto& p : model->named_parameters())
      if (p.key().rfind("component_", 0) == 0 || p.key().rfind("prior.", 0) == 0)
        p.value().add_(0.3 * torch::randn(p.value().sizes(), g, kDouble));
  }
  model->train();
  const cm::CellBatch batch = make_batch(c, 5, 2, torch::kDouble);
  torch::Generator gen = generator(0);
  auto loss = [&] {
    gen.set_current_seed(99);  // the same noise at every evaluation
    return model->loss(batch, gen, 0.7).loss.mean();
  };
  std::vector<torch::Tensor> inputs;
  for (const std::string& n : names) inputs.push_back(param(model, n));
  cvt::expect_gradients_match_finite_differences(loss, inputs, 1e-6, label);
}

cm::ModelConfig gradient_config(cm::LikelihoodKind likelihood, cm::LibraryKind library,
                                cm::PriorKind prior) {
  cm::ModelConfig c = small_config(likelihood, library, prior);
  c.n_genes = 6;
  c.encoder_hidden = {5};
  c.decoder_hidden = {4};
  c.latent_dim = 2;
  c.dropout = 0.0;                      // dropout draws from the global generator
  c.activation = cm::Activation::tanh;  // smooth: no kinks between the finite-difference points
  return c;
}

}  // namespace

TEST(VaeGradients, ZinbWithLatentLibraryMatchesFiniteDifferences) {
  cm::ModelConfig c = gradient_config(cm::LikelihoodKind::zinb, cm::LibraryKind::latent,
                                      cm::PriorKind::standard_normal);
  c.dispersion = cm::DispersionKind::gene_batch;
  check_gradients(
      c,
      {"encoder.layers.0.linear.weight", "z_mean.bias", "z_log_variance.weight",
       "library_encoder.layers.0.norm.weight", "library_mean.bias", "library_log_variance.weight",
       "decoder.layers.0.linear.weight", "mean_head.bias", "zero_head.weight", "log_dispersion"},
      "zinb latent");
}

TEST(VaeGradients, MixturePriorMatchesFiniteDifferences) {
  cm::ModelConfig c = gradient_config(cm::LikelihoodKind::nb, cm::LibraryKind::observed,
                                      cm::PriorKind::gaussian_mixture);
  c.learn_component_weights = true;
  c.dispersion = cm::DispersionKind::cell;
  check_gradients(
      c,
      {"z_mean.weight", "z_log_variance.bias", "component_logits.weight", "component_logits.bias",
       "component_embedding", "component_log_variance_embedding", "prior.means",
       "prior.log_variances", "prior.logits", "dispersion_head.bias", "mean_head.weight"},
      "gmm nb");
}

// ---- importance sampling
// -------------------------------------------------------------------------

namespace {

// A linear-Gaussian model: identity input, no hidden layers, Gaussian likelihood with per-gene
// log sd, no covariates, so x | z ~ N(W z + b, diag sigma^2). Double precision.
cm::Vae linear_gaussian(std::int64_t genes, std::int64_t latent, cm::PriorKind prior,
                        std::int64_t components = 1) {
  cm::ModelConfig c;
  c.n_genes = genes;
  c.latent_dim = latent;
  c.encoder_hidden = {};
  c.decoder_hidden = {};
  c.input = cm::InputKind::identity;
  c.likelihood = cm::LikelihoodKind::gaussian;
  c.library = cm::LibraryKind::none;
  c.prior = prior;
  c.components = components;
  c.norm = cm::Normalization::none;
  c.dropout = 0.0;
  cm::Vae model(c);
  model->to(torch::kDouble);
  return model;
}

// Sets the decoder to x = W z + b + sigma * noise.
void set_decoder(cm::Vae& model, const torch::Tensor& w, const torch::Tensor& b,
                 const torch::Tensor& sigma) {
  set_param(model, "mean_head.weight", w);
  set_param(model, "mean_head.bias", b);
  set_param(model, "log_scale", sigma.log());
}

// Sets the encoder to q(z|x) = N(A x + c, diag(variance)) (variance includes the epsilon).
void set_encoder(cm::Vae& model, const torch::Tensor& a, const torch::Tensor& c,
                 const torch::Tensor& variance) {
  const double eps = model->config().variance_epsilon;
  set_param(model, "z_mean.weight", a);
  set_param(model, "z_mean.bias", c);
  set_param(model, "z_log_variance.weight", torch::zeros_like(a));
  set_param(model, "z_log_variance.bias", (variance - eps).log());
}

}  // namespace

TEST(VaeMarginalLikelihood, ExactWhenTheProposalIsThePosterior) {
  // Orthogonal columns of W and one sigma: the posterior is diagonal and the encoder can be set
  // to it exactly, so every importance weight is p(x) itself.
  const std::int64_t g = 5, d = 2;
  cm::Vae model = linear_gaussian(g, d, cm::PriorKind::standard_normal);
  const torch::Tensor w =
      torch::tensor({{1.0, 0.5}, {0.5, -1.0}, {-0.5, 0.0}, {0.0, 1.0}, {1.0, 0.0}}, kDouble);
  ASSERT_NEAR(torch::dot(w.select(1, 0), w.select(1, 1)).item<double>(), 0.0, 1e-15);
  const torch::Tensor b = torch::tensor({0.3, -0.2, 1.0, 0.5, -0.4}, kDouble);
  const double sigma = 0.7;
  set_decoder(model, w, b, torch::full({g}, sigma, kDouble));
  const torch::Tensor post_var = 1.0 / (1.0 + (w * w).sum(0) / (sigma * sigma));  // D
  const torch::Tensor a = post_var.unsqueeze(1) * w.t() / (sigma * sigma);        // D x G
  set_encoder(model, a, -torch::mv(a, b), post_var);

  cm::CellBatch batch;
  batch.x = torch::randn({4, g}, generator(1), kDouble) * 1.5 + b;
  torch::Generator gen = generator(2);
  const torch::Tensor is = model->marginal_log_likelihood(batch, 7, gen).log_likelihood;
  const torch::Tensor cov = torch::mm(w, w.t()) + sigma * sigma * torch::eye(g, kDouble);
  const torch::Tensor exact = mvn_log_density(batch.x, b, cov);
  ASSERT_EQ(is.sizes(), torch::IntArrayRef({4}));
  EXPECT_EQ(is.scalar_type(), torch::kDouble);
  EXPECT_TRUE(torch::allclose(is, exact, 0, 1e-9)) << is << exact;
}

TEST(VaeMarginalLikelihood, ConvergesToTheExactMarginalWithABroaderProposal) {
  // General W, per-gene sigma: the posterior is correlated; the proposal is diagonal, offset
  // and wider than the posterior (variance 1.5 x its largest eigenvalue), so the weights have
  // finite variance; with 20000 samples the estimate's sd is about 0.007 (measured over seeds:
  // 0.015 at 4000 samples, 0.002 at 400000, converging to the exact value).
  const std::int64_t g = 5, d = 2;
  cm::Vae model = linear_gaussian(g, d, cm::PriorKind::standard_normal);
  torch::Generator gw = generator(7);
  const torch::Tensor w = torch::randn({g, d}, gw, kDouble);
  const torch::Tensor b = torch::randn({g}, gw, kDouble);
  const torch::Tensor sigma = torch::tensor({0.5, 0.8, 1.1, 0.6, 0.9}, kDouble);
  set_decoder(model, w, b, sigma);
  const torch::Tensor dinv = torch::diag(1.0 / (sigma * sigma));
  const torch::Tensor post_cov =
      torch::inverse(torch::eye(d, kDouble) + torch::mm(torch::mm(w.t(), dinv), w));
  const torch::Tensor a = torch::mm(torch::mm(post_cov, w.t()), dinv);
  const double spread = 1.5 * torch::linalg_eigvalsh(post_cov).max().item<double>();
  set_encoder(model, a, -torch::mv(a, b) + 0.2, torch::full({d}, spread, kDouble));

  cm::CellBatch batch;
  batch.x = torch::randn({3, g}, generator(3), kDouble) * 1.5 + b;
  const torch::Tensor exact =
      mvn_log_density(batch.x, b, torch::mm(w, w.t()) + torch::diag(sigma * sigma));
  torch::Generator gen = generator(4);
  const torch::Tensor is = model->marginal_log_likelihood(batch, 20000, gen).log_likelihood;
  EXPECT_TRUE(torch::allclose(is, exact, 0, 0.03)) << is << exact;
  // A single sample is a (much) worse bound on average.
  torch::Generator gen1 = generator(4);
  const torch::Tensor one = model->marginal_log_likelihood(repeat_cells(batch, 400), 1, gen1)
                                .log_likelihood.reshape({3, 400})
                                .mean(1);
  EXPECT_TRUE((one < exact - 0.02).all().item<bool>()) << one << exact;
}

TEST(VaeMarginalLikelihood, MixturePriorConvergesToTheExactMixtureMarginal) {
  // p(z) = sum_k pi_k N(m_k, V) with a shared diagonal V: x is a mixture of Gaussians
  // N(W m_k + b, W V W^T + diag sigma^2). Proposal: uniform q(y|x) and per component the
  // posterior mean (exact for that component), widened as above; 20000 samples (sd ~0.007).
  const std::int64_t g = 5, d = 2, k = 2;
  cm::Vae model = linear_gaussian(g, d, cm::PriorKind::gaussian_mixture, k);
  torch::Generator gw = generator(9);
  const torch::Tensor w = torch::randn({g, d}, gw, kDouble);
  const torch::Tensor b = torch::randn({g}, gw, kDouble);
  const torch::Tensor sigma = torch::tensor({0.6, 0.9, 0.7, 1.0, 0.8}, kDouble);
  set_decoder(model, w, b, sigma);
  const torch::Tensor means = torch::tensor({{1.5, -1.0}, {-1.0, 1.2}}, kDouble);
  const torch::Tensor prior_var = torch::tensor({0.5, 0.8}, kDouble);
  const torch::Tensor logits = torch::tensor({0.4, -0.3}, kDouble);
  set_param(model, "prior.means", means);
  set_param(model, "prior.log_variances", prior_var.log().expand({k, d}).clone());
  set_param(model, "prior.logits", logits);

  const torch::Tensor dinv = torch::diag(1.0 / (sigma * sigma));
  const torch::Tensor post_cov =
      torch::inverse(torch::diag(1.0 / prior_var) + torch::mm(torch::mm(w.t(), dinv), w));
  const torch::Tensor a = torch::mm(torch::mm(post_cov, w.t()), dinv);
  const double spread = 1.5 * torch::linalg_eigvalsh(post_cov).max().item<double>();
  set_encoder(model, a, -torch::mv(a, b), torch::full({d}, spread, kDouble));
  // Component k's posterior mean adds post_cov V^-1 m_k.
  set_param(model, "component_embedding", torch::mm(means / prior_var, post_cov));
  set_param(model, "component_log_variance_embedding", torch::zeros({k, d}, kDouble));
  set_param(model, "component_logits.weight", torch::zeros({k, g}, kDouble));
  set_param(model, "component_logits.bias", torch::zeros({k}, kDouble));

  cm::CellBatch batch;
  batch.x = torch::randn({3, g}, generator(5), kDouble) * 2.0 + b;
  const torch::Tensor cov = torch::mm(w * prior_var, w.t()) + torch::diag(sigma * sigma);
  const torch::Tensor log_pi = torch::log_softmax(logits, 0);
  const torch::Tensor exact = torch::logsumexp(
      torch::stack({log_pi[0] + mvn_log_density(batch.x, torch::mv(w, means[0]) + b, cov),
                    log_pi[1] + mvn_log_density(batch.x, torch::mv(w, means[1]) + b, cov)},
                   1),
      1);
  torch::Generator gen = generator(6);
  const torch::Tensor is = model->marginal_log_likelihood(batch, 20000, gen).log_likelihood;
  EXPECT_TRUE(torch::allclose(is, exact, 0, 0.03)) << is << exact;
}

TEST(VaeMarginalLikelihood, OneSampleEstimateAveragesToTheElbo) {
  // For the standard normal prior, E[log p(x|z,l) + log p(z,l) - log q(z,l|x)] with one draw
  // is the ELBO that loss() computes with analytic KL terms: the averages over many draws agree
  // within their standard errors. Exercises the library terms (per-batch prior) of the weights.
  const cm::ModelConfig c = small_config(cm::LikelihoodKind::zinb, cm::LibraryKind::latent);
  cm::Vae model(c);
  model->set_library_prior(torch::tensor({3.0f, 3.6f}), torch::tensor({0.2f, 0.5f}));
  const cm::CellBatch cells = make_batch(c, 3, 8);
  const std::int64_t repeats = 3000;
  const cm::CellBatch batch = repeat_cells(cells, repeats);
  model->train();  // marginal_log_likelihood and this loss both run in eval mode
  torch::Generator g1 = generator(1), g2 = generator(2);
  const torch::Tensor is = model->marginal_log_likelihood(batch, 1, g1).log_likelihood;
  EXPECT_TRUE(model->is_training());
  model->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor elbo = -model->loss(batch, g2).loss.to(torch::kDouble);
  for (std::int64_t i = 0; i < 3; ++i) {
    const auto [m_is, se_is] = mean_and_se(is.narrow(0, i * repeats, repeats));
    const auto [m_elbo, se_elbo] = mean_and_se(elbo.narrow(0, i * repeats, repeats));
    EXPECT_NEAR(m_is, m_elbo, 5 * std::hypot(se_is, se_elbo)) << "cell " << i;
  }
}

TEST(VaeMarginalLikelihood, ManySamplesBoundTheElboFromAbove) {
  cm::ModelConfig c = small_config(cm::LikelihoodKind::zinb, cm::LibraryKind::latent,
                                   cm::PriorKind::gaussian_mixture);
  c.dispersion = cm::DispersionKind::gene_label;
  cm::Vae model(c);
  model->set_library_prior(torch::tensor({3.0f, 3.6f}), torch::tensor({0.2f, 0.5f}));
  const cm::CellBatch cells = make_batch(c, 3, 8);
  model->eval();
  torch::Generator g1 = generator(1), g2 = generator(2);
  const std::int64_t repeats = 1000;
  const torch::Tensor elbo =
      -model->loss(repeat_cells(cells, repeats), g2).loss.to(torch::kDouble).detach();
  const torch::Tensor is =
      model->marginal_log_likelihood(repeat_cells(cells, 10), 200, g1).log_likelihood;
  for (std::int64_t i = 0; i < 3; ++i) {
    const auto [m_is, se_is] = mean_and_se(is.narrow(0, i * 10, 10));
    const auto [m_elbo, se_elbo] = mean_and_se(elbo.narrow(0, i * repeats, repeats));
    EXPECT_GT(m_is, m_elbo - 5 * std::hypot(se_is, se_elbo)) << "cell " << i;
    EXPECT_TRUE(std::isfinite(m_is));
  }
}

// ---- Prior::log_density
// --------------------------------------------------------------------------

TEST(PriorLogDensity, StandardNormalAndMixtureAgainstClosedForms) {
  torch::Generator gen = generator(31);
  const torch::Tensor z = torch::randn({6, 3}, gen, kDouble) * 1.5;
  cm::PriorOptions o;
  o.latent_dim = 3;
  auto normal = cm::make_prior(o);
  EXPECT_TRUE(torch::allclose(normal->log_density(z), (-0.5 * (kLog2Pi + z * z)).sum(1)));

  o.kind = cm::PriorKind::gaussian_mixture;
  o.components = 4;
  auto mixture = std::dynamic_pointer_cast<cm::GaussianMixturePrior>(cm::make_prior(o));
  mixture->to(torch::kDouble);
  {
    torch::NoGradGuard no_grad;
    mixture->log_variances.copy_(torch::randn({4, 3}, gen, kDouble) * 0.5);
    mixture->logits.copy_(torch::randn({4}, gen, kDouble));
  }
  // sum_k pi_k prod_d N(z_d; m_kd, v_kd), formed directly (moderate values, no underflow).
  const torch::Tensor pi = torch::softmax(mixture->logits, 0);
  std::vector<torch::Tensor> per_component;
  for (int k = 0; k < 4; ++k) {
    const torch::Tensor v = mixture->log_variances[k].exp();
    const torch::Tensor r = z - mixture->means[k];
    per_component.push_back((torch::exp(-r * r / (2 * v)) / torch::sqrt(2 * M_PI * v)).prod(1));
  }
  const torch::Tensor joint = pi * torch::stack(per_component, 1);  // p(y=k) p(z|y=k)
  const torch::Tensor got = mixture->log_density(z);
  EXPECT_TRUE(torch::allclose(got, joint.sum(1).log(), 1e-10, 1e-10));
  // Consistent with the responsibilities: p(y|z) p(z) = p(y) p(z|y).
  EXPECT_TRUE(
      torch::allclose(mixture->responsibilities(z) * got.exp().unsqueeze(1), joint, 1e-9, 1e-14));
  EXPECT_THROW(mixture->log_density(torch::zeros({2, 2}, kDouble)), std::invalid_argument);
  EXPECT_THROW(normal->log_density(torch::zeros({2}, kDouble)), std::invalid_argument);
}
