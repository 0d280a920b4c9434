#include "cellvae/model/likelihood_fused.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "cellvae/model/likelihood.hpp"

namespace cellvae::model {
namespace {

constexpr std::int64_t kLogFactorialTableSize = 4096;
// Counts up to this use products and sums instead of lgamma/digamma differences.
constexpr std::int64_t kSmallCount = 16;

// log(k!) for k < kLogFactorialTableSize.
const double* log_factorial_table() {
  static const std::vector<double> table = [] {
    std::vector<double> t(kLogFactorialTableSize);
    for (std::int64_t k = 0; k < kLogFactorialTableSize; ++k)
      t[static_cast<std::size_t>(k)] = std::lgamma(static_cast<double>(k) + 1.0);
    return t;
  }();
  return table.data();
}

inline double log_factorial(double x, const double* table) {
  if (x < static_cast<double>(kLogFactorialTableSize)) {
    const auto k = static_cast<std::int64_t>(x);
    if (static_cast<double>(k) == x) return table[k];
  }
  return std::lgamma(x + 1.0);
}

// Digamma for x > 0: recurrence up to x >= 6, then the asymptotic series to x^-12
// (relative error < 1e-12).
inline double digamma(double x) {
  double r = 0.0;
  while (x < 6.0) {
    r -= 1.0 / x;
    x += 1.0;
  }
  const double f = 1.0 / (x * x);
  return r + std::log(x) - 0.5 / x -
         f * (1.0 / 12 -
              f * (1.0 / 120 -
                   f * (1.0 / 252 - f * (1.0 / 240 - f * (1.0 / 132 - f * (691.0 / 32760))))));
}

// log1p through the faster log (Goldberg 1991, "What every computer scientist should know about
// floating-point arithmetic", thm. 4): accurate to a few ulps for u > -1.
inline double fast_log1p(double u) {
  const double w = 1.0 + u;
  if (w == 1.0) return u;
  return std::log(w) * (u / (w - 1.0));
}

// softplus(a) = log(1 + e^a) and sigmoid(a) from one exponential.
struct SoftplusSigmoid {
  double softplus, sigmoid;
};
inline SoftplusSigmoid softplus_sigmoid(double a) {
  const double e = std::exp(-std::abs(a));
  const double inv = 1.0 / (1.0 + e);
  return {std::max(a, 0.0) + fast_log1p(e), a >= 0 ? inv : e * inv};
}

// Zero-inflation of one entry with b = -z (z the zero logit) and nb0 = log NB(0) <= 0:
// value = softplus(nb0 + b) - softplus(b), scale = sigmoid(nb0 + b) (d value / d nb0),
// sig_b = sigmoid(b). For |b| <= kDirectZiLimit from two exponentials, one log and one
// division (E = e^b, A = 1 + E p0, B = 1 + E: value = log(A / B), scale = E p0 / A,
// sig_b = E / B); otherwise with the overflow-safe softplus_sigmoid.
constexpr double kDirectZiLimit = 30.0;
struct ZeroInflated {
  double value, scale, sig_b;
};
inline ZeroInflated zero_inflated_zero(double nb0, double b) {
  if (std::abs(b) <= kDirectZiLimit && nb0 > -700.0) {
    const double e = std::exp(b);
    const double ep = e * std::exp(nb0);
    const double a = 1.0 + ep, bb = 1.0 + e;
    const double inv = 1.0 / (a * bb);
    return {std::log(a * a * inv), ep * bb * inv, e * a * inv};
  }
  const SoftplusSigmoid sa = softplus_sigmoid(nb0 + b), sb = softplus_sigmoid(b);
  return {sa.softplus - sb.softplus, sa.sigmoid, sb.sigmoid};
}
// softplus(z) and sigmoid(z) (the nonzero case's -log(1 - pi) and its derivative).
inline SoftplusSigmoid softplus_sigmoid_direct(double z) {
  if (std::abs(z) <= kDirectZiLimit) {
    const double e = std::exp(z);
    const double inv = 1.0 / (1.0 + e);
    return {std::log1p(e), e * inv};
  }
  return softplus_sigmoid(z);
}

// Where the kernel reads and writes. Parameter "row strides" are 0 for per-gene tensors.
template <class T>
struct Buffers {
  const T* x;
  const T* mu;
  const T* theta;
  const T* z;  // null for NB
  std::int64_t theta_row_stride;
  std::int64_t z_row_stride;
  T* out;       // per cell
  T* d_mu;      // null when not needed
  T* d_theta;   // cells x genes, null when not needed
  T* d_z;       // cells x genes, null when not needed
  // Per-gene constants when theta_row_stride == 0: lgamma(θ), digamma(θ), log(θ + eps),
  // 1 / (θ + eps).
  const double* lgamma_theta;
  const double* digamma_theta;
  const double* log_theta_eps;
  const double* inv_theta_eps;
};

template <class T>
void run_rows(const Buffers<T>& b, std::int64_t genes, std::int64_t begin, std::int64_t end) {
  const double* log_fact = log_factorial_table();
  const bool per_gene = b.theta_row_stride == 0;
  const bool zi = b.z != nullptr;
  const bool grads = b.d_mu || b.d_theta || b.d_z;
  for (std::int64_t n = begin; n < end; ++n) {
    const T* xr = b.x + n * genes;
    const T* mur = b.mu + n * genes;
    const T* thr = b.theta + n * b.theta_row_stride;
    const T* zr = zi ? b.z + n * b.z_row_stride : nullptr;
    T* dmur = b.d_mu ? b.d_mu + n * genes : nullptr;
    T* dthr = b.d_theta ? b.d_theta + n * genes : nullptr;
    T* dzr = b.d_z ? b.d_z + n * genes : nullptr;
    double sum = 0.0;
    for (std::int64_t g = 0; g < genes; ++g) {
      const double x = static_cast<double>(xr[g]);
      const double m = static_cast<double>(mur[g]);
      const double t = static_cast<double>(thr[g]);
      const double te = t + kLogEps;
      const double inv_te = per_gene ? b.inv_theta_eps[g] : 1.0 / te;
      const double l1p = fast_log1p(m * inv_te);  // log(θ+μ+eps) - log(θ+eps)
      const double nb0 = -t * l1p;
      const double inv_s = grads ? 1.0 / (te + m) : 0.0;
      double nb;
      double dnb_dmu = 0.0, dnb_dth = 0.0;
      const bool zero = x == 0.0;
      if (zero) {
        nb = nb0;
        if (grads) {
          dnb_dmu = -t * inv_s;
          dnb_dth = -l1p + t * m * inv_te * inv_s;
        }
      } else {
        const double log_te = per_gene ? b.log_theta_eps[g] : std::log(te);
        // lgamma(x+θ) - lgamma(θ) and digamma(x+θ) - digamma(θ): for small integer x as
        // log Π_{k<x} (θ+k) and Σ_{k<x} 1/(θ+k) (no gamma function, and more accurate);
        // otherwise with lgamma/digamma (of θ once per gene when θ is per gene).
        double lg_diff, dg_diff = 0.0;
        const auto xi = static_cast<std::int64_t>(x);
        if (static_cast<double>(xi) == x && xi <= kSmallCount && t < 1e12) {
          double prod = t;
          if (grads) dg_diff = 1.0 / t;
          for (std::int64_t k = 1; k < xi; ++k) {
            prod *= t + static_cast<double>(k);
            if (grads) dg_diff += 1.0 / (t + static_cast<double>(k));
          }
          lg_diff = std::log(prod);
        } else {
          lg_diff = std::lgamma(x + t) - (per_gene ? b.lgamma_theta[g] : std::lgamma(t));
          if (grads) dg_diff = digamma(x + t) - (per_gene ? b.digamma_theta[g] : digamma(t));
        }
        nb = lg_diff - log_factorial(x, log_fact) + nb0 +
             x * (std::log(m + kLogEps) - log_te - l1p);
        if (grads) {
          dnb_dmu = x / (m + kLogEps) - (t + x) * inv_s;
          dnb_dth = -l1p + t * m * inv_te * inv_s - x * inv_s + dg_diff;
        }
      }
      double value = nb, dz = 0.0, scale = 1.0;
      if (zi) {
        const double z = static_cast<double>(zr[g]);
        if (zero) {
          const ZeroInflated v = zero_inflated_zero(nb0, -z);
          value = v.value;
          scale = v.scale;  // d value / d nb0
          dz = v.sig_b - scale;
        } else {
          const SoftplusSigmoid a = softplus_sigmoid_direct(z);
          value = nb - a.softplus;
          dz = -a.sigmoid;
        }
      }
      sum += value;
      if (dmur) dmur[g] = static_cast<T>(scale * dnb_dmu);
      if (dthr) dthr[g] = static_cast<T>(scale * dnb_dth);
      if (dzr) dzr[g] = static_cast<T>(dz);
    }
    b.out[n] = static_cast<T>(sum);
  }
}

// Row stride of a parameter that is genes, 1 x genes or cells x genes; throws otherwise.
std::int64_t row_stride(const torch::Tensor& p, std::int64_t cells, std::int64_t genes,
                        const char* what) {
  const bool per_gene = (p.dim() == 1 && p.size(0) == genes) ||
                        (p.dim() == 2 && p.size(0) == 1 && p.size(1) == genes);
  if (per_gene && cells != 1) return 0;
  if (p.dim() == 2 && p.size(0) == cells && p.size(1) == genes) return genes;
  if (per_gene) return 0;
  throw std::invalid_argument(std::string("fused NB log-likelihood: ") + what +
                              " must be genes, 1 x genes or cells x genes");
}

struct FusedNbFunction : public torch::autograd::Function<FusedNbFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x_in,
                               const torch::Tensor& mu_in, const torch::Tensor& theta_in,
                               const torch::Tensor& z_in, bool zi, std::int64_t need) {
    const std::int64_t cells = mu_in.size(0), genes = mu_in.size(1);
    torch::Tensor mu = mu_in.contiguous();
    torch::Tensor x = x_in.to(mu.scalar_type()).contiguous();
    torch::Tensor theta = theta_in.to(mu.scalar_type()).contiguous();
    torch::Tensor z = zi ? z_in.to(mu.scalar_type()).contiguous() : torch::Tensor();
    const std::int64_t theta_stride = row_stride(theta, cells, genes, "theta");
    const std::int64_t z_stride = zi ? row_stride(z, cells, genes, "zero_logits") : 0;

    const bool need_mu = need & 1;
    const bool need_theta = need & 2;
    const bool need_z = zi && (need & 4);
    torch::Tensor out = torch::empty({cells}, mu.options());
    torch::Tensor d_mu = need_mu ? torch::empty_like(mu) : torch::Tensor();
    torch::Tensor d_theta = need_theta ? torch::empty_like(mu) : torch::Tensor();
    torch::Tensor d_z = need_z ? torch::empty_like(mu) : torch::Tensor();

    std::vector<double> lgamma_theta, digamma_theta, log_theta_eps, inv_theta_eps;
    AT_DISPATCH_FLOATING_TYPES(mu.scalar_type(), "fused_nb_log_prob", [&] {
      const scalar_t* th = theta.data_ptr<scalar_t>();
      if (theta_stride == 0) {
        lgamma_theta.resize(static_cast<std::size_t>(genes));
        digamma_theta.resize(static_cast<std::size_t>(genes));
        log_theta_eps.resize(static_cast<std::size_t>(genes));
        inv_theta_eps.resize(static_cast<std::size_t>(genes));
        for (std::int64_t g = 0; g < genes; ++g) {
          const double t = static_cast<double>(th[g]);
          const auto i = static_cast<std::size_t>(g);
          lgamma_theta[i] = std::lgamma(t);
          digamma_theta[i] = need_theta ? digamma(t) : 0.0;
          log_theta_eps[i] = std::log(t + kLogEps);
          inv_theta_eps[i] = 1.0 / (t + kLogEps);
        }
      }
      Buffers<scalar_t> b{x.data_ptr<scalar_t>(),
                          mu.data_ptr<scalar_t>(),
                          th,
                          zi ? z.data_ptr<scalar_t>() : nullptr,
                          theta_stride,
                          z_stride,
                          out.data_ptr<scalar_t>(),
                          need_mu ? d_mu.data_ptr<scalar_t>() : nullptr,
                          need_theta ? d_theta.data_ptr<scalar_t>() : nullptr,
                          need_z ? d_z.data_ptr<scalar_t>() : nullptr,
                          lgamma_theta.data(),
                          digamma_theta.data(),
                          log_theta_eps.data(),
                          inv_theta_eps.data()};
      const std::int64_t grain = std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(genes, 1));
      at::parallel_for(0, cells, grain, [&](std::int64_t begin, std::int64_t end) {
        run_rows(b, genes, begin, end);
      });
    });
    ctx->save_for_backward({d_mu, d_theta, d_z});
    ctx->saved_data["theta_sizes"] = theta_in.sizes().vec();
    if (zi) ctx->saved_data["z_sizes"] = z_in.sizes().vec();
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    auto saved = ctx->get_saved_variables();
    torch::Tensor w = grad_outputs[0].unsqueeze(1);
    torch::Tensor g_mu, g_theta, g_z;
    if (saved[0].defined()) g_mu = saved[0] * w;
    if (saved[1].defined())
      g_theta = (saved[1] * w).sum_to_size(ctx->saved_data["theta_sizes"].toIntVector());
    if (saved[2].defined())
      g_z = (saved[2] * w).sum_to_size(ctx->saved_data["z_sizes"].toIntVector());
    return {torch::Tensor(), g_mu, g_theta, g_z, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor fused_nb_log_prob_per_cell(const torch::Tensor& x, const torch::Tensor& mu,
                                         const torch::Tensor& theta,
                                         const torch::Tensor& zero_logits) {
  if (!mu.defined() || !theta.defined() || !x.defined())
    throw std::invalid_argument("fused NB log-likelihood: x, mu and theta must be defined");
  if (mu.dim() != 2 || x.sizes() != mu.sizes())
    throw std::invalid_argument("fused NB log-likelihood: x and mu must be cells x genes");
  if (mu.scalar_type() != torch::kFloat && mu.scalar_type() != torch::kDouble)
    throw std::invalid_argument("fused NB log-likelihood: mu must be float or double");
  for (const torch::Tensor* t : {&x, &mu, &theta, &zero_logits})
    if (t->defined() && !t->device().is_cpu())
      throw std::invalid_argument("fused NB log-likelihood: tensors must be on the CPU");
  // Custom autograd Functions take no undefined tensors: NB passes an empty placeholder.
  // Which gradients to compute in the forward pass (the context's needs_input_grad is not
  // usable there when no input requires a gradient).
  const bool zi = zero_logits.defined();
  const bool grad_mode = torch::GradMode::is_enabled();
  const std::int64_t need = (grad_mode && mu.requires_grad() ? 1 : 0) |
                            (grad_mode && theta.requires_grad() ? 2 : 0) |
                            (grad_mode && zi && zero_logits.requires_grad() ? 4 : 0);
  return FusedNbFunction::apply(x, mu, theta, zi ? zero_logits : torch::empty({0}, mu.options()),
                                zi, need);
}

}  // namespace cellvae::model
