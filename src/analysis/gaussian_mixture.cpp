#include "cellvae/analysis/gaussian_mixture.hpp"
#include "checked_matrix.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include <torch/torch.h>

#include "cellvae/analysis/kmeans.hpp"
#include "cellvae/enum_names.hpp"
#include "cellvae/error.hpp"
#include "cellvae/random.hpp"

namespace cellvae::analysis {

namespace {

constexpr NameTable<CovarianceType, 4> kCovarianceNames{{
    {CovarianceType::full, "full"},
    {CovarianceType::diagonal, "diag"},
    {CovarianceType::spherical, "spherical"},
    {CovarianceType::tied, "tied"},
}};

constexpr double kLog2Pi = 1.8378770664093454835606594728112;
constexpr double kEps = std::numeric_limits<double>::epsilon();

const char* const kSingular =
    "Gaussian mixture: a component's covariance is singular (it collapsed onto too few "
    "distinct points); use fewer components or a larger reg_covar";

/// The covariance shape of a type, e.g. {K, d, d} for full.
std::vector<std::int64_t> covariance_shape(CovarianceType t, std::int64_t k, std::int64_t d) {
  switch (t) {
    case CovarianceType::full:
      return {k, d, d};
    case CovarianceType::diagonal:
      return {k, d};
    case CovarianceType::spherical:
      return {k};
    case CovarianceType::tied:
      return {d, d};
  }
  return {};
}

std::int64_t parameter_count(CovarianceType t, std::int64_t k, std::int64_t d) {
  std::int64_t cov = 0;
  switch (t) {
    case CovarianceType::full:
      cov = k * d * (d + 1) / 2;
      break;
    case CovarianceType::diagonal:
      cov = k * d;
      break;
    case CovarianceType::spherical:
      cov = k;
      break;
    case CovarianceType::tied:
      cov = d * (d + 1) / 2;
      break;
  }
  return cov + k * d + k - 1;
}

void check_fit_options(const GaussianMixtureOptions& o) {
  if (o.max_iterations < 1) throw InputError("Gaussian mixture: max_iterations must be >= 1");
  if (!(o.tolerance > 0)) throw InputError("Gaussian mixture: tolerance must be > 0");
  if (!(o.reg_covar >= 0) || !std::isfinite(o.reg_covar))
    throw InputError("Gaussian mixture: reg_covar must be >= 0");
  if (o.n_init < 1) throw InputError("Gaussian mixture: n_init must be >= 1");
}

/// Parameters during EM. `factor` is the precision's Cholesky-type factor P (precision = P P^T;
/// for diagonal/spherical the square roots of the precisions), so that the Mahalanobis term of
/// row x is |(x - mean) P|^2 and log det(precision)^(1/2) = sum log diag P.
struct Params {
  torch::Tensor weights, means, covariances, factor;
};

torch::Tensor identity(std::int64_t d, const torch::Tensor& like) {
  return torch::eye(d, like.options());
}

/// P from covariances; throws InputError (kSingular) when one is not positive definite.
torch::Tensor factor_from_covariances(const torch::Tensor& cov, CovarianceType t) {
  if (t == CovarianceType::full || t == CovarianceType::tied) {
    auto [chol, info] = torch::linalg_cholesky_ex(cov);
    if (info.ne(0).any().item<bool>()) throw InputError(kSingular);
    const std::int64_t d = cov.size(-1);
    auto eye = identity(d, cov).expand(cov.sizes()).contiguous();
    // P = L^{-T}: then P P^T = L^{-T} L^{-1} = Sigma^{-1}.
    return torch::linalg_solve_triangular(chol, eye, /*upper=*/false).transpose(-2, -1);
  }
  if (!(cov.gt(0).all().item<bool>())) throw InputError(kSingular);
  return cov.rsqrt();
}

/// P from precisions (scikit-learn's precisions_init): the lower Cholesky factor.
torch::Tensor factor_from_precisions(const torch::Tensor& prec, CovarianceType t) {
  if (t == CovarianceType::full || t == CovarianceType::tied) {
    auto [chol, info] = torch::linalg_cholesky_ex(prec);
    if (info.ne(0).any().item<bool>())
      throw InputError("Gaussian mixture: the initial precisions are not positive definite");
    return chol;
  }
  if (!(prec.gt(0).all().item<bool>()))
    throw InputError("Gaussian mixture: the initial precisions must be positive");
  return prec.sqrt();
}

/// log N(x_i; mean_k, Sigma_k): (n x K).
torch::Tensor log_gaussian(const torch::Tensor& x, const torch::Tensor& means,
                           const torch::Tensor& factor, CovarianceType t) {
  const std::int64_t n = x.size(0), d = x.size(1), k = means.size(0);
  torch::Tensor quad, log_det;  // (n x K), (K)
  switch (t) {
    case CovarianceType::full:
    case CovarianceType::tied: {
      quad = torch::empty({n, k}, x.options());
      for (std::int64_t c = 0; c < k; ++c) {
        const auto p = t == CovarianceType::full ? factor[c] : factor;
        quad.select(1, c).copy_((x - means[c]).matmul(p).pow(2).sum(1));
      }
      const auto diag = factor.diagonal(0, -2, -1).log().sum(-1);
      log_det = t == CovarianceType::full ? diag : diag.expand({k});
      break;
    }
    case CovarianceType::diagonal:
      quad = ((x.unsqueeze(1) - means.unsqueeze(0)) * factor.unsqueeze(0)).pow(2).sum(2);
      log_det = factor.log().sum(1);
      break;
    case CovarianceType::spherical:
      quad = (x.unsqueeze(1) - means.unsqueeze(0)).pow(2).sum(2) * factor.pow(2).unsqueeze(0);
      log_det = factor.log() * static_cast<double>(d);
      break;
  }
  return -0.5 * (static_cast<double>(d) * kLog2Pi + quad) + log_det.unsqueeze(0);
}

torch::Tensor weighted_log_prob(const torch::Tensor& x, const Params& p, CovarianceType t) {
  return log_gaussian(x, p.means, p.factor, t) + p.weights.log().unsqueeze(0);
}

/// Weights (unnormalised: nk), means and covariances (+ reg on the diagonal) from
/// responsibilities `resp` (n x K), scikit-learn's M-step.
Params estimate_parameters(const torch::Tensor& x, const torch::Tensor& resp, double reg,
                           CovarianceType t) {
  const std::int64_t d = x.size(1), k = resp.size(1);
  Params p;
  const auto nk = resp.sum(0) + 10 * kEps;
  p.weights = nk;
  p.means = resp.t().matmul(x) / nk.unsqueeze(1);
  switch (t) {
    case CovarianceType::full: {
      p.covariances = torch::empty({k, d, d}, x.options());
      for (std::int64_t c = 0; c < k; ++c) {
        const auto diff = x - p.means[c];
        auto cov = (resp.select(1, c).unsqueeze(1) * diff).t().matmul(diff) / nk[c];
        p.covariances[c].copy_(cov);
      }
      p.covariances.diagonal(0, -2, -1).add_(reg);
      break;
    }
    case CovarianceType::tied: {
      auto cov = torch::zeros({d, d}, x.options());
      for (std::int64_t c = 0; c < k; ++c) {
        const auto diff = x - p.means[c];
        cov += (resp.select(1, c).unsqueeze(1) * diff).t().matmul(diff);
      }
      p.covariances = cov / nk.sum();
      p.covariances.diagonal().add_(reg);
      break;
    }
    case CovarianceType::diagonal:
    case CovarianceType::spherical: {
      auto var = torch::empty({k, d}, x.options());
      for (std::int64_t c = 0; c < k; ++c)
        var[c].copy_(resp.select(1, c).matmul((x - p.means[c]).pow(2)) / nk[c]);
      var += reg;
      p.covariances = t == CovarianceType::diagonal ? var : var.mean(1);
      break;
    }
  }
  return p;
}

/// M-step: parameters from responsibilities, weights normalised, precision factor refreshed.
void m_step(const torch::Tensor& x, const torch::Tensor& resp, double reg, CovarianceType t,
            Params& p) {
  p = estimate_parameters(x, resp, reg, t);
  p.weights = p.weights / static_cast<double>(x.size(0));
  p.factor = factor_from_covariances(p.covariances, t);
}

void check_start(const GaussianMixtureStart& s, CovarianceType t, std::int64_t k, std::int64_t d) {
  auto check_shape = [](const torch::Tensor& v, std::vector<std::int64_t> shape, const char* what) {
    if (v.defined() && v.sizes() != torch::IntArrayRef(shape))
      throw InputError(std::string("Gaussian mixture: initial ") + what + " must be " +
                       detail::shape_text(torch::empty(shape)) + "; got " + detail::shape_text(v));
    if (v.defined() && !torch::isfinite(v.to(torch::kFloat64)).all().item<bool>())
      throw InputError(std::string("Gaussian mixture: initial ") + what +
                       " contain NaN or infinite values");
  };
  check_shape(s.weights, {k}, "weights");
  check_shape(s.means, {k, d}, "means");
  check_shape(s.covariances, covariance_shape(t, k, d), "covariances");
  check_shape(s.precisions, covariance_shape(t, k, d), "precisions");
  if (s.covariances.defined() && s.precisions.defined())
    throw InputError("Gaussian mixture: give initial covariances or precisions, not both");
  if (s.weights.defined()) {
    const auto w = s.weights.to(torch::kFloat64);
    if (w.lt(0).any().item<bool>())
      throw InputError("Gaussian mixture: initial weights must be >= 0");
    const double sum = w.sum().item<double>();
    if (std::abs(sum - 1) > 1e-6)
      throw InputError("Gaussian mixture: initial weights must sum to 1; they sum to " +
                       std::to_string(sum));
  }
  for (const auto* m : {&s.covariances, &s.precisions}) {
    if (!m->defined() || (t != CovarianceType::full && t != CovarianceType::tied)) continue;
    const auto v = m->to(torch::kFloat64);
    if (!torch::allclose(v, v.transpose(-2, -1)))
      throw InputError(std::string("Gaussian mixture: initial ") +
                       (m == &s.covariances ? "covariances" : "precisions") + " must be symmetric");
  }
}

bool start_complete(const GaussianMixtureStart& s) {
  return s.weights.defined() && s.means.defined() &&
         (s.covariances.defined() || s.precisions.defined());
}

/// The parameters EM starts from: the k-means start, overridden by the given ones.
Params initial_parameters(const torch::Tensor& x, const GaussianMixtureOptions& o,
                          std::uint64_t kmeans_seed) {
  const auto& s = o.initial;
  const CovarianceType t = o.covariance;
  Params p;
  if (!start_complete(s)) {
    KMeansOptions km;
    km.clusters = o.components;
    km.n_init = 1;
    km.seed = kmeans_seed;
    const auto labels = run_kmeans(x, km).labels;
    auto lab = torch::tensor(std::vector<std::int64_t>(labels.begin(), labels.end()),
                             torch::TensorOptions().dtype(torch::kLong).device(x.device()));
    auto resp = torch::one_hot(lab, o.components).to(torch::kFloat64);
    p = estimate_parameters(x, resp, o.reg_covar, t);
    p.weights = p.weights / static_cast<double>(x.size(0));
  }
  const auto as_x = [&](const torch::Tensor& v) { return v.to(x.options()).contiguous(); };
  if (s.weights.defined()) p.weights = as_x(s.weights);
  if (s.means.defined()) p.means = as_x(s.means);
  if (s.precisions.defined()) {
    p.covariances = torch::Tensor();
    p.factor = factor_from_precisions(as_x(s.precisions), t);
  } else {
    if (s.covariances.defined()) {
      p.covariances = as_x(s.covariances);
      try {
        p.factor = factor_from_covariances(p.covariances, t);
      } catch (const InputError&) {
        throw InputError("Gaussian mixture: the initial covariances are not positive definite");
      }
    } else {
      p.factor = factor_from_covariances(p.covariances, t);
    }
  }
  return p;
}

struct RunResult {
  Params params;
  double lower_bound = -std::numeric_limits<double>::infinity();
  bool converged = false;
  int iterations = 0;
};

RunResult run_em(const torch::Tensor& x, Params p, const GaussianMixtureOptions& o) {
  RunResult r;
  for (int it = 1; it <= o.max_iterations; ++it) {
    const double previous = r.lower_bound;
    // E-step
    const auto weighted = weighted_log_prob(x, p, o.covariance);
    const auto norm = torch::logsumexp(weighted, 1, /*keepdim=*/true);
    const double lower = norm.mean().item<double>();
    const auto resp = (weighted - norm).exp();
    // M-step
    m_step(x, resp, o.reg_covar, o.covariance, p);
    r.lower_bound = lower;
    r.iterations = it;
    if (std::abs(lower - previous) < o.tolerance) {
      r.converged = true;
      break;
    }
  }
  r.params = std::move(p);
  return r;
}

GaussianMixture as_mixture(CovarianceType t, const Params& p) {
  GaussianMixture m;
  m.covariance = t;
  m.weights = p.weights;
  m.means = p.means;
  m.covariances = p.covariances;
  return m;
}

void check_mixture(const GaussianMixture& m, const torch::Tensor& x, const char* what) {
  if (!m.weights.defined() || !m.means.defined() || !m.covariances.defined() ||
      m.weights.dim() != 1 || m.means.dim() != 2 || m.means.size(0) != m.weights.size(0) ||
      m.covariances.sizes() !=
          torch::IntArrayRef(covariance_shape(m.covariance, m.components(), m.dimension())))
    throw InputError(std::string(what) +
                     ": the mixture's parameters are missing or of "
                     "inconsistent shapes");
  if (x.defined() && (x.dim() != 2 || x.size(1) != m.dimension()))
    throw InputError(std::string(what) + ": the data must have " + std::to_string(m.dimension()) +
                     " columns like the mixture; got " + detail::shape_text(x));
}

/// The mixture's parameters on x's device in float64, with the precision factor.
Params params_of(const GaussianMixture& m, const torch::Tensor& x) {
  Params p;
  const auto opts = x.options();
  p.weights = m.weights.to(opts);
  p.means = m.means.to(opts);
  p.covariances = m.covariances.to(opts);
  p.factor = factor_from_covariances(p.covariances, m.covariance);
  return p;
}

torch::Tensor weighted_log_prob_of(const GaussianMixture& m, const torch::Tensor& x,
                                   const char* what) {
  check_mixture(m, x, what);
  const auto xd = detail::checked_matrix(x, what, 0);
  return weighted_log_prob(xd, params_of(m, xd), m.covariance);
}

}  // namespace

std::string_view to_string(CovarianceType type) { return name_of(kCovarianceNames, type); }

CovarianceType parse_covariance_type(std::string_view name) {
  return parse_name(kCovarianceNames, name, "covariance type");
}

GaussianMixture fit_gaussian_mixture(const torch::Tensor& x,
                                     const GaussianMixtureOptions& options) {
  torch::NoGradGuard no_grad;
  check_fit_options(options);
  const torch::Tensor xd = detail::checked_matrix(x, "Gaussian mixture", 1);
  const std::int64_t n = xd.size(0), d = xd.size(1), k = options.components;
  if (k < 1 || k > n)
    throw InputError("Gaussian mixture: components must be between 1 and the number of rows (" +
                     std::to_string(n) + "); got " + std::to_string(k));
  check_start(options.initial, options.covariance, k, d);

  const int starts = start_complete(options.initial) ? 1 : options.n_init;
  Rng seeds(options.seed);
  std::optional<RunResult> best;
  for (int s = 0; s < starts; ++s) {
    auto run = run_em(xd, initial_parameters(xd, options, seeds.next()), options);
    if (!best || run.lower_bound > best->lower_bound) best = std::move(run);
  }

  GaussianMixture m = as_mixture(options.covariance, best->params);
  m.lower_bound = best->lower_bound;
  m.converged = best->converged;
  m.iterations = best->iterations;
  m.log_likelihood = torch::logsumexp(weighted_log_prob(xd, best->params, options.covariance), 1)
                         .sum()
                         .item<double>();
  m.n_parameters = parameter_count(options.covariance, k, d);
  m.bic = -2 * m.log_likelihood + static_cast<double>(m.n_parameters) * std::log(double(n));
  return m;
}

torch::Tensor score_samples(const GaussianMixture& mixture, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  return torch::logsumexp(weighted_log_prob_of(mixture, x, "score_samples"), 1);
}

torch::Tensor predict_proba(const GaussianMixture& mixture, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  return torch::softmax(weighted_log_prob_of(mixture, x, "predict_proba"), 1);
}

std::vector<std::int32_t> predict(const GaussianMixture& mixture, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  auto labels =
      weighted_log_prob_of(mixture, x, "predict").argmax(1).to(torch::kCPU, torch::kInt32);
  const auto* v = labels.data_ptr<std::int32_t>();
  return std::vector<std::int32_t>(v, v + labels.numel());
}

MixtureSample sample(const GaussianMixture& mixture, std::int64_t n, torch::Generator& generator) {
  torch::NoGradGuard no_grad;
  check_mixture(mixture, torch::Tensor(), "sample");
  if (n < 0) throw InputError("sample: the number of draws must be >= 0; got " + std::to_string(n));
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64).device(generator.device());
  const std::int64_t k = mixture.components(), d = mixture.dimension();
  const auto weights = mixture.weights.to(opts);
  const auto means = mixture.means.to(opts);
  const auto cov = mixture.covariances.to(opts);
  MixtureSample out;
  if (n == 0) {
    out.samples = torch::empty({0, d}, opts);
    out.components = torch::empty({0}, opts.dtype(torch::kLong));
    return out;
  }
  out.components = torch::multinomial(weights, n, /*replacement=*/true, generator);
  const auto z = torch::randn({n, d}, generator, opts);
  out.samples = means.index_select(0, out.components);
  switch (mixture.covariance) {
    case CovarianceType::full: {
      const auto chol = torch::linalg_cholesky(cov);
      for (std::int64_t c = 0; c < k; ++c) {
        const auto rows = out.components.eq(c).nonzero().flatten();
        if (rows.numel() == 0) continue;
        out.samples.index_add_(0, rows, z.index_select(0, rows).matmul(chol[c].t()));
      }
      break;
    }
    case CovarianceType::tied:
      out.samples += z.matmul(torch::linalg_cholesky(cov).t());
      break;
    case CovarianceType::diagonal:
      out.samples += z * cov.sqrt().index_select(0, out.components);
      break;
    case CovarianceType::spherical:
      out.samples += z * cov.sqrt().index_select(0, out.components).unsqueeze(1);
      break;
  }
  return out;
}

MixtureSample sample(const GaussianMixture& mixture, std::int64_t n, std::uint64_t seed) {
  torch::Generator generator = at::detail::createCPUGenerator(seed);
  return sample(mixture, n, generator);
}

GaussianMixtureSelection select_gaussian_mixture(const torch::Tensor& x,
                                                 const GaussianMixtureSelectionOptions& options) {
  torch::NoGradGuard no_grad;
  const torch::Tensor xd = detail::checked_matrix(x, "Gaussian mixture selection", 2);
  if (options.min_components < 1)
    throw InputError("Gaussian mixture selection: min_components must be >= 1");
  if (options.max_components < options.min_components)
    throw InputError("Gaussian mixture selection: max_components (" +
                     std::to_string(options.max_components) + ") is below min_components (" +
                     std::to_string(options.min_components) + ")");
  if (options.covariance_types.empty())
    throw InputError("Gaussian mixture selection: no covariance types to try");
  check_fit_options(options.fit);
  const std::int64_t n = xd.size(0);
  if (options.min_components > n)
    throw InputError("Gaussian mixture selection: min_components (" +
                     std::to_string(options.min_components) + ") exceeds the number of rows (" +
                     std::to_string(n) + ")");

  GaussianMixtureSelection sel;
  std::optional<GaussianMixture> best;
  const std::int64_t k_max = std::min(options.max_components, n);
  for (std::int64_t k = options.min_components; k <= k_max; ++k) {
    for (CovarianceType t : options.covariance_types) {
      GaussianMixtureOptions fit = options.fit;
      fit.components = k;
      fit.covariance = t;
      fit.initial = {};
      MixtureCandidate c;
      c.components = k;
      c.covariance = t;
      const std::int64_t params = parameter_count(t, k, xd.size(1));
      if (options.max_parameters_per_row > 0 &&
          static_cast<double>(params) > options.max_parameters_per_row * static_cast<double>(n)) {
        c.bic = std::numeric_limits<double>::quiet_NaN();
        c.log_likelihood = c.bic;
        c.n_parameters = params;
        c.note = "skipped: " + std::to_string(params) + " parameters for " + std::to_string(n) +
                 " rows";
        sel.candidates.push_back(std::move(c));
        continue;
      }
      try {
        auto m = fit_gaussian_mixture(xd, fit);
        c.fitted = true;
        c.bic = m.bic;
        c.log_likelihood = m.log_likelihood;
        c.n_parameters = m.n_parameters;
        c.converged = m.converged;
        if (!best || m.bic < best->bic) best = std::move(m);
      } catch (const InputError& e) {
        c.bic = std::numeric_limits<double>::quiet_NaN();
        c.log_likelihood = c.bic;
        c.n_parameters = parameter_count(t, k, xd.size(1));
        c.note = e.what();
      }
      sel.candidates.push_back(std::move(c));
    }
  }
  if (!best) {
    std::string why = sel.candidates.empty() ? "" : ": " + sel.candidates.front().note;
    throw InputError("Gaussian mixture selection: no candidate could be fitted" + why);
  }
  sel.best = std::move(*best);
  return sel;
}

}  // namespace cellvae::analysis
