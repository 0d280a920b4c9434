#include "cellvae/model/prior.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <stdexcept>
#include <string>

#include "cellvae/enum_names.hpp"
#include "cellvae/error.hpp"

namespace cellvae::model {
namespace {

constexpr NameTable<PriorKind, 2> kPriorNames{{
    {PriorKind::standard_normal, "normal"},
    {PriorKind::gaussian_mixture, "gmm"},
}};

std::string shape_of(const torch::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::string s;
  for (std::int64_t d : t.sizes()) s += (s.empty() ? "" : " x ") + std::to_string(d);
  return s.empty() ? "scalar" : s;
}

void check_shape(bool ok, const char* what, const torch::Tensor& t, const std::string& expected) {
  if (!ok)
    throw std::invalid_argument(std::string("prior: ") + what + " has shape " + shape_of(t) +
                                ", expected " + expected);
}

void check_component(std::optional<std::int64_t> component, std::int64_t k) {
  if (component && (*component < 0 || *component >= k))
    throw std::invalid_argument("prior: component " + std::to_string(*component) +
                                " out of range [0, " + std::to_string(k) + ")");
}

}  // namespace

std::string_view to_string(PriorKind kind) { return name_of(kPriorNames, kind); }
PriorKind parse_prior_kind(std::string_view name) {
  return parse_name(kPriorNames, name, "prior");
}

// ---- standard normal ---------------------------------------------------------------------------

StandardNormalPrior::StandardNormalPrior(std::int64_t latent_dim) : latent_dim_(latent_dim) {}

torch::Tensor StandardNormalPrior::kl(const LatentPosterior& q) const {
  const std::string expected = "cells x " + std::to_string(latent_dim_);
  check_shape(q.z.mean.defined() && q.z.mean.dim() == 2 && q.z.mean.size(1) == latent_dim_,
              "posterior mean", q.z.mean, expected);
  check_shape(q.z.log_variance.defined() && q.z.log_variance.sizes() == q.z.mean.sizes(),
              "posterior log-variance", q.z.log_variance, expected);
  return kl_standard_normal(q.z);
}

torch::Tensor StandardNormalPrior::responsibilities(const torch::Tensor& z) const {
  check_shape(z.defined() && z.dim() == 2 && z.size(1) == latent_dim_, "z", z,
              "cells x " + std::to_string(latent_dim_));
  return torch::ones({z.size(0), 1}, z.options());
}

torch::Tensor StandardNormalPrior::log_density(const torch::Tensor& z) const {
  check_shape(z.defined() && z.dim() == 2 && z.size(1) == latent_dim_, "z", z,
              "cells x " + std::to_string(latent_dim_));
  torch::Tensor zero = torch::zeros({}, z.options());
  return diagonal_gaussian_log_density(z, DiagonalGaussian{zero, zero});
}

PriorSample StandardNormalPrior::sample(std::int64_t n, torch::Generator& generator,
                                        std::optional<std::int64_t> component) const {
  check_component(component, 1);
  torch::NoGradGuard no_grad;
  PriorSample out;
  const auto on = torch::TensorOptions().device(generator.device());
  out.z = torch::randn({n, latent_dim_}, generator, on.dtype(torch::kFloat));
  out.components = torch::zeros({n}, on.dtype(torch::kLong));
  return out;
}

// ---- Gaussian mixture --------------------------------------------------------------------------

GaussianMixturePrior::GaussianMixturePrior(const PriorOptions& options) {
  torch::Generator generator = at::detail::createCPUGenerator(options.seed);
  torch::Tensor init = torch::randn({options.components, options.latent_dim}, generator,
                                    torch::TensorOptions().dtype(torch::kFloat)) *
                       options.mean_init_scale;
  means = register_parameter("means", init);
  log_variances = register_parameter(
      "log_variances", torch::zeros({options.components, options.latent_dim}));
  logits = register_parameter("logits", torch::zeros({options.components}),
                              options.learn_weights);
}

torch::Tensor GaussianMixturePrior::log_weights() const { return torch::log_softmax(logits, 0); }

torch::Tensor GaussianMixturePrior::kl(const LatentPosterior& q) const {
  const std::int64_t k = components();
  const std::int64_t d = latent_dim();
  const std::string expected = "cells x " + std::to_string(k) + " x " + std::to_string(d);
  const torch::Tensor& m = q.z.mean;
  check_shape(m.defined() && m.dim() == 3 && m.size(1) == k && m.size(2) == d, "posterior mean",
              m, expected);
  check_shape(q.z.log_variance.defined() && q.z.log_variance.sizes() == m.sizes(),
              "posterior log-variance", q.z.log_variance, expected);
  const torch::Tensor& y = q.component_logits;
  check_shape(y.defined() && y.dim() == 2 && y.size(0) == m.size(0) && y.size(1) == k,
              "component logits", y, "cells x " + std::to_string(k));

  torch::Tensor log_q = torch::log_softmax(y, 1);  // cells x K
  torch::Tensor q_y = torch::exp(log_q);
  torch::Tensor kl_y = (q_y * (log_q - log_weights())).sum(1);
  torch::Tensor kl_z = kl_diagonal_gaussians(q.z, DiagonalGaussian{means, log_variances});
  return kl_y + (q_y * kl_z).sum(1);
}

torch::Tensor GaussianMixturePrior::responsibilities(const torch::Tensor& z) const {
  check_shape(z.defined() && z.dim() == 2 && z.size(1) == latent_dim(), "z", z,
              "cells x " + std::to_string(latent_dim()));
  torch::Tensor log_joint =
      log_weights() + diagonal_gaussian_log_density(z.unsqueeze(1),
                                                    DiagonalGaussian{means, log_variances});
  return torch::softmax(log_joint, 1);
}

torch::Tensor GaussianMixturePrior::log_density(const torch::Tensor& z) const {
  check_shape(z.defined() && z.dim() == 2 && z.size(1) == latent_dim(), "z", z,
              "cells x " + std::to_string(latent_dim()));
  torch::Tensor log_joint =
      log_weights() + diagonal_gaussian_log_density(z.unsqueeze(1),
                                                    DiagonalGaussian{means, log_variances});
  return torch::logsumexp(log_joint, 1);
}

PriorSample GaussianMixturePrior::sample(std::int64_t n, torch::Generator& generator,
                                         std::optional<std::int64_t> component) const {
  check_component(component, components());
  torch::NoGradGuard no_grad;
  PriorSample out;
  if (component) {
    out.components = torch::full({n}, *component, means.options().dtype(torch::kLong));
  } else {
    out.components = torch::multinomial(torch::exp(log_weights()), n, /*replacement=*/true,
                                        generator);
  }
  DiagonalGaussian p{means.index_select(0, out.components),
                     log_variances.index_select(0, out.components)};
  out.z = reparameterized_sample(p, generator);
  return out;
}

// ---- factory -----------------------------------------------------------------------------------

std::shared_ptr<Prior> make_prior(const PriorOptions& options) {
  if (options.latent_dim < 1)
    throw InputError("latent dimension must be >= 1 (got " + std::to_string(options.latent_dim) +
                     ")");
  switch (options.kind) {
    case PriorKind::standard_normal:
      return std::make_shared<StandardNormalPrior>(options.latent_dim);
    case PriorKind::gaussian_mixture:
      if (options.components < 1)
        throw InputError("mixture prior needs >= 1 components (got " +
                         std::to_string(options.components) + ")");
      if (!(options.mean_init_scale >= 0))
        throw InputError("mixture prior mean_init_scale must be >= 0 (got " +
                         std::to_string(options.mean_init_scale) + ")");
      return std::make_shared<GaussianMixturePrior>(options);
  }
  throw std::logic_error("make_prior: unhandled PriorKind");
}

}  // namespace cellvae::model
