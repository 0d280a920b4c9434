#include "cellvae/model/likelihood.hpp"

#include <array>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cellvae/enum_names.hpp"
#include "cellvae/error.hpp"
#include "cellvae/model/likelihood_fused.hpp"

namespace cellvae::model {
namespace {

// ---- the one table per enum ------------------------------------------------------------------

constexpr NameTable<LikelihoodKind, 6> kLikelihoodNames{{
    {LikelihoodKind::bernoulli, "bernoulli"},
    {LikelihoodKind::gaussian, "gaussian"},
    {LikelihoodKind::poisson, "poisson"},
    {LikelihoodKind::nb, "nb"},
    {LikelihoodKind::zip, "zip"},
    {LikelihoodKind::zinb, "zinb"},
}};

constexpr NameTable<DispersionKind, 4> kDispersionNames{{
    {DispersionKind::gene, "gene"},
    {DispersionKind::gene_batch, "gene-batch"},
    {DispersionKind::gene_label, "gene-label"},
    {DispersionKind::cell, "cell"},
}};

// ---- helpers -----------------------------------------------------------------------------

const torch::Tensor& need(const torch::Tensor& t, const char* field, LikelihoodKind kind) {
  if (!t.defined())
    throw std::invalid_argument("likelihood '" + std::string(to_string(kind)) +
                                "' needs LikelihoodParams::" + field);
  return t;
}

// log(1 - pi) = -softplus(z); log pi = -softplus(-z).
torch::Tensor zero_inflate(const torch::Tensor& x, const torch::Tensor& count_log_prob,
                           const torch::Tensor& count_log_prob_zero, const torch::Tensor& z) {
  torch::Tensor case_zero =
      torch::nn::functional::softplus(count_log_prob_zero - z) - torch::nn::functional::softplus(-z);
  torch::Tensor case_nonzero = count_log_prob - torch::nn::functional::softplus(z);
  return torch::where(x == 0, case_zero, case_nonzero);
}

// (1 - pi) as a tensor broadcast with mu.
torch::Tensor not_zero_prob(const torch::Tensor& z) { return torch::sigmoid(-z); }

// Draws the structural zeros: keeps `counts` where a Bernoulli(1 - pi) is 1.
torch::Tensor apply_structural_zeros(const torch::Tensor& counts, const torch::Tensor& z,
                                     torch::Generator& generator) {
  torch::Tensor keep_prob = not_zero_prob(z).expand_as(counts).contiguous();
  return counts * torch::bernoulli(keep_prob, generator);
}

torch::Tensor nb_draw(const torch::Tensor& mu, const torch::Tensor& theta,
                      torch::Generator& generator) {
  auto shape = at::infer_size(mu.sizes(), theta.sizes());
  torch::Tensor th = theta.expand(shape).contiguous();
  torch::Tensor rate = torch::_standard_gamma(th, generator) * (mu / th);
  return torch::poisson(rate.clamp_min(0), generator);
}

// ---- the six models ------------------------------------------------------------------------

class BernoulliLikelihood final : public Likelihood {
 public:
  explicit BernoulliLikelihood(bool fused) : fused_(fused) {}
  LikelihoodKind kind() const override { return LikelihoodKind::bernoulli; }
  torch::Tensor log_prob(const torch::Tensor& x, const LikelihoodParams& p) const override {
    return bernoulli_log_prob(x, need(p.mean, "mean", kind()));
  }
  torch::Tensor log_prob_per_cell(const torch::Tensor& x,
                                  const LikelihoodParams& p) const override {
    const torch::Tensor& mean = need(p.mean, "mean", kind());
    const bool floating =
        mean.scalar_type() == torch::kFloat || mean.scalar_type() == torch::kDouble;
    if (fused_ && mean.device().is_cpu() && x.device().is_cpu() && floating && mean.dim() == 2 &&
        x.sizes() == mean.sizes())
      return fused_bernoulli_log_prob_per_cell(x, mean);
    return Likelihood::log_prob_per_cell(x, p);
  }
  torch::Tensor sample(const LikelihoodParams& p, torch::Generator& g) const override {
    torch::NoGradGuard no_grad;
    return torch::bernoulli(need(p.mean, "mean", kind()).clamp(0, 1).contiguous(), g);
  }
  torch::Tensor mean(const LikelihoodParams& p) const override {
    return need(p.mean, "mean", kind());
  }

 private:
  bool fused_;
};

class GaussianLikelihood final : public Likelihood {
 public:
  LikelihoodKind kind() const override { return LikelihoodKind::gaussian; }
  torch::Tensor log_prob(const torch::Tensor& x, const LikelihoodParams& p) const override {
    return gaussian_log_prob(x, need(p.mean, "mean", kind()),
                             need(p.log_scale, "log_scale", kind()));
  }
  torch::Tensor sample(const LikelihoodParams& p, torch::Generator& g) const override {
    torch::NoGradGuard no_grad;
    const torch::Tensor& m = need(p.mean, "mean", kind());
    torch::Tensor sd = torch::exp(need(p.log_scale, "log_scale", kind()));
    auto shape = at::infer_size(m.sizes(), sd.sizes());
    return m + sd * torch::randn(shape, g, m.options());
  }
  torch::Tensor mean(const LikelihoodParams& p) const override {
    return need(p.mean, "mean", kind());
  }
};

class PoissonLikelihood final : public Likelihood {
 public:
  LikelihoodKind kind() const override { return LikelihoodKind::poisson; }
  torch::Tensor log_prob(const torch::Tensor& x, const LikelihoodParams& p) const override {
    return poisson_log_prob(x, need(p.mean, "mean", kind()));
  }
  torch::Tensor sample(const LikelihoodParams& p, torch::Generator& g) const override {
    torch::NoGradGuard no_grad;
    return torch::poisson(need(p.mean, "mean", kind()).clamp_min(0).contiguous(), g);
  }
  torch::Tensor mean(const LikelihoodParams& p) const override {
    return need(p.mean, "mean", kind());
  }
};

class ZipLikelihood final : public Likelihood {
 public:
  LikelihoodKind kind() const override { return LikelihoodKind::zip; }
  torch::Tensor log_prob(const torch::Tensor& x, const LikelihoodParams& p) const override {
    return zip_log_prob(x, need(p.mean, "mean", kind()),
                        need(p.zero_logits, "zero_logits", kind()));
  }
  torch::Tensor sample(const LikelihoodParams& p, torch::Generator& g) const override {
    torch::NoGradGuard no_grad;
    const torch::Tensor& z = need(p.zero_logits, "zero_logits", kind());
    torch::Tensor mu = need(p.mean, "mean", kind());
    auto shape = at::infer_size(mu.sizes(), z.sizes());
    torch::Tensor counts = torch::poisson(mu.expand(shape).clamp_min(0).contiguous(), g);
    return apply_structural_zeros(counts, z, g);
  }
  torch::Tensor mean(const LikelihoodParams& p) const override {
    return need(p.mean, "mean", kind()) * not_zero_prob(need(p.zero_logits, "zero_logits", kind()));
  }
};

class NbLikelihood final : public Likelihood {
 public:
  NbLikelihood(bool zero_inflated, bool fused) : zero_inflated_(zero_inflated), fused_(fused) {}
  LikelihoodKind kind() const override {
    return zero_inflated_ ? LikelihoodKind::zinb : LikelihoodKind::nb;
  }
  torch::Tensor log_prob(const torch::Tensor& x, const LikelihoodParams& p) const override {
    const torch::Tensor& mu = need(p.mean, "mean", kind());
    const torch::Tensor& theta = need(p.inverse_dispersion, "inverse_dispersion", kind());
    if (!zero_inflated_) return nb_log_prob(x, mu, theta);
    return zinb_log_prob(x, mu, theta, need(p.zero_logits, "zero_logits", kind()));
  }
  torch::Tensor log_prob_per_cell(const torch::Tensor& x,
                                  const LikelihoodParams& p) const override {
    const torch::Tensor& mu = need(p.mean, "mean", kind());
    const torch::Tensor& theta = need(p.inverse_dispersion, "inverse_dispersion", kind());
    torch::Tensor z;
    if (zero_inflated_) z = need(p.zero_logits, "zero_logits", kind());
    const bool cpu = mu.device().is_cpu() && theta.device().is_cpu() &&
                     (!z.defined() || z.device().is_cpu()) && x.device().is_cpu();
    const bool floating = mu.scalar_type() == torch::kFloat || mu.scalar_type() == torch::kDouble;
    if (fused_ && cpu && floating && mu.dim() == 2 && x.sizes() == mu.sizes())
      return fused_nb_log_prob_per_cell(x, mu, theta, z);
    return Likelihood::log_prob_per_cell(x, p);
  }
  torch::Tensor sample(const LikelihoodParams& p, torch::Generator& g) const override {
    torch::NoGradGuard no_grad;
    torch::Tensor mu = need(p.mean, "mean", kind());
    const torch::Tensor& theta = need(p.inverse_dispersion, "inverse_dispersion", kind());
    if (!zero_inflated_) return nb_draw(mu, theta, g);
    const torch::Tensor& z = need(p.zero_logits, "zero_logits", kind());
    auto shape = at::infer_size(mu.sizes(), z.sizes());
    return apply_structural_zeros(nb_draw(mu.expand(shape), theta, g), z, g);
  }
  torch::Tensor mean(const LikelihoodParams& p) const override {
    const torch::Tensor& mu = need(p.mean, "mean", kind());
    if (!zero_inflated_) return mu;
    return mu * not_zero_prob(need(p.zero_logits, "zero_logits", kind()));
  }

 private:
  bool zero_inflated_;
  bool fused_;
};

}  // namespace

// ---- names -------------------------------------------------------------------------------

std::string_view to_string(LikelihoodKind kind) { return name_of(kLikelihoodNames, kind); }
LikelihoodKind parse_likelihood_kind(std::string_view name) {
  return parse_name(kLikelihoodNames, name, "likelihood");
}
std::string_view to_string(DispersionKind kind) { return name_of(kDispersionNames, kind); }
DispersionKind parse_dispersion_kind(std::string_view name) {
  return parse_name(kDispersionNames, name, "dispersion");
}

bool is_count_likelihood(LikelihoodKind kind) {
  return kind == LikelihoodKind::poisson || kind == LikelihoodKind::nb ||
         kind == LikelihoodKind::zip || kind == LikelihoodKind::zinb;
}
bool has_dispersion(LikelihoodKind kind) {
  return kind == LikelihoodKind::nb || kind == LikelihoodKind::zinb;
}
bool is_zero_inflated(LikelihoodKind kind) {
  return kind == LikelihoodKind::zip || kind == LikelihoodKind::zinb;
}

// ---- interface ---------------------------------------------------------------------------

torch::Tensor Likelihood::log_prob_per_cell(const torch::Tensor& x,
                                            const LikelihoodParams& params) const {
  torch::Tensor lp = log_prob(x, params);
  return lp.dim() == 0 ? lp : lp.sum(-1);
}

std::unique_ptr<Likelihood> make_likelihood(LikelihoodKind kind, const LikelihoodOptions& options) {
  switch (kind) {
    case LikelihoodKind::bernoulli: return std::make_unique<BernoulliLikelihood>(options.fused);
    case LikelihoodKind::gaussian: return std::make_unique<GaussianLikelihood>();
    case LikelihoodKind::poisson: return std::make_unique<PoissonLikelihood>();
    case LikelihoodKind::nb: return std::make_unique<NbLikelihood>(false, options.fused);
    case LikelihoodKind::zip: return std::make_unique<ZipLikelihood>();
    case LikelihoodKind::zinb: return std::make_unique<NbLikelihood>(true, options.fused);
  }
  throw std::invalid_argument("make_likelihood: unknown likelihood kind");
}

// ---- elementwise log-probabilities ----------------------------------------------------------

torch::Tensor nb_log_prob(const torch::Tensor& x, const torch::Tensor& mu,
                          const torch::Tensor& theta) {
  torch::Tensor theta_eps = theta + kLogEps;
  torch::Tensor log1p_ratio = torch::log1p(mu / theta_eps);  // log(θ+μ+eps) - log(θ+eps)
  torch::Tensor log_theta_mu = torch::log(theta_eps) + log1p_ratio;
  // The lgamma difference first: for large θ both terms are huge and cancel (exactly for x = 0),
  // and adding the small terms before the cancellation would round them away in float.
  return (torch::lgamma(x + theta) - torch::lgamma(theta)) - torch::lgamma(x + 1) -
         theta * log1p_ratio + x * (torch::log(mu + kLogEps) - log_theta_mu);
}

torch::Tensor zinb_log_prob(const torch::Tensor& x, const torch::Tensor& mu,
                            const torch::Tensor& theta, const torch::Tensor& zero_logits) {
  torch::Tensor nb_zero = -theta * torch::log1p(mu / (theta + kLogEps));
  return zero_inflate(x, nb_log_prob(x, mu, theta), nb_zero, zero_logits);
}

torch::Tensor poisson_log_prob(const torch::Tensor& x, const torch::Tensor& mu) {
  return x * torch::log(mu + kLogEps) - mu - torch::lgamma(x + 1);
}

torch::Tensor zip_log_prob(const torch::Tensor& x, const torch::Tensor& mu,
                           const torch::Tensor& zero_logits) {
  return zero_inflate(x, poisson_log_prob(x, mu), -mu, zero_logits);
}

torch::Tensor gaussian_log_prob(const torch::Tensor& x, const torch::Tensor& mean,
                                const torch::Tensor& log_scale) {
  const double half_log_2pi = 0.5 * std::log(2 * M_PI);
  torch::Tensor r = (x - mean) * torch::exp(-log_scale);
  return -half_log_2pi - log_scale - 0.5 * r * r;
}

torch::Tensor bernoulli_log_prob(const torch::Tensor& x, const torch::Tensor& p) {
  torch::Tensor pc = p.clamp(kBernoulliEps, 1 - kBernoulliEps);
  return x * torch::log(pc) + (1 - x) * torch::log1p(-pc);
}

}  // namespace cellvae::model
