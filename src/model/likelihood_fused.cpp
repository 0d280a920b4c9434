#include "cellvae/model/likelihood_fused.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "cellvae/model/likelihood.hpp"
#include "kernel_support.hpp"

namespace cellvae::model {
namespace {

constexpr std::int64_t kLogFactorialTableSize = 4096;
// Counts up to this use products and sums instead of lgamma/digamma differences.
constexpr std::int64_t kSmallCount = 16;
// With per-gene θ, lgamma(x+θ) - lgamma(θ) and digamma(x+θ) - digamma(θ) are tabulated per gene
// for integer counts 1..kTableCount (93% of nonzero counts in kang_pbmc's 1,287 HVGs are <= 8).
constexpr std::int64_t kTableCount = 8;

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
  // 1 / (θ + eps), and for counts k = 1..kTableCount lgamma(k+θ) - lgamma(θ) and
  // digamma(k+θ) - digamma(θ) at [g * kTableCount + k - 1].
  const double* lgamma_theta;
  const double* digamma_theta;
  const double* log_theta_eps;
  const double* inv_theta_eps;
  const double* lgamma_diff;
  const double* digamma_diff;
  const float* inv_theta_eps_float;  // the float fast path's 1 / (θ + eps)
};

// One entry's log-probability and its derivatives.
struct Entry {
  double value, d_mu, d_theta, d_z;
};

// The exact (double) log-probability of entry g of a row and, when `grads`, its derivatives.
template <class T>
inline Entry exact_entry(const Buffers<T>& b, double x, double m, double t, const T* zr,
                         std::int64_t g, bool per_gene, bool grads, const double* log_fact) {
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
    // lgamma(x+θ) - lgamma(θ) and digamma(x+θ) - digamma(θ): tabulated per gene for small
    // integer x; for other small integer x as log Π_{k<x} (θ+k) and Σ_{k<x} 1/(θ+k) (no gamma
    // function, and more accurate); otherwise with lgamma/digamma (of θ once per gene when θ
    // is per gene).
    double lg_diff, dg_diff = 0.0;
    const auto xi = static_cast<std::int64_t>(x);
    const bool integer = static_cast<double>(xi) == x;
    if (per_gene && integer && xi <= kTableCount && b.lgamma_diff) {
      lg_diff = b.lgamma_diff[g * kTableCount + xi - 1];
      dg_diff = b.digamma_diff[g * kTableCount + xi - 1];
    } else if (integer && xi <= kSmallCount && t < 1e12) {
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
    nb = lg_diff - log_factorial(x, log_fact) + nb0 + x * (std::log(m + kLogEps) - log_te - l1p);
    if (grads) {
      dnb_dmu = x / (m + kLogEps) - (t + x) * inv_s;
      dnb_dth = -l1p + t * m * inv_te * inv_s - x * inv_s + dg_diff;
    }
  }
  double value = nb, dz = 0.0, scale = 1.0;
  if (zr) {
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
  return {value, scale * dnb_dmu, scale * dnb_dth, dz};
}

// Every entry in double (the reference path; all double inputs).
template <class T>
void run_rows(const Buffers<T>& b, std::int64_t genes, std::int64_t begin, std::int64_t end) {
  const double* log_fact = log_factorial_table();
  const bool per_gene = b.theta_row_stride == 0;
  const bool grads = b.d_mu || b.d_theta || b.d_z;
  for (std::int64_t n = begin; n < end; ++n) {
    const T* xr = b.x + n * genes;
    const T* mur = b.mu + n * genes;
    const T* thr = b.theta + n * b.theta_row_stride;
    const T* zr = b.z ? b.z + n * b.z_row_stride : nullptr;
    T* dmur = b.d_mu ? b.d_mu + n * genes : nullptr;
    T* dthr = b.d_theta ? b.d_theta + n * genes : nullptr;
    T* dzr = b.d_z ? b.d_z + n * genes : nullptr;
    double sum = 0.0;
    for (std::int64_t g = 0; g < genes; ++g) {
      const Entry e = exact_entry(b, static_cast<double>(xr[g]), static_cast<double>(mur[g]),
                                  static_cast<double>(thr[g]), zr, g, per_gene, grads, log_fact);
      sum += e.value;
      if (dmur) dmur[g] = static_cast<T>(e.d_mu);
      if (dthr) dthr[g] = static_cast<T>(e.d_theta);
      if (dzr) dzr[g] = static_cast<T>(e.d_z);
    }
    b.out[n] = static_cast<T>(sum);
  }
}

// ---- the float fast path: zero counts vectorized ------------------------------------------
//
// For float inputs every entry is first evaluated as if its count were zero, in float with
// vectorizable exp/log (8 entries per instruction with AVX2): log NB(0) = -θ log1p(μ/(θ+eps)),
// the zero-inflated log(π + (1-π) NB(0)) and the derivatives; the same pass keeps log1p(μ/θ),
// -softplus(z) and sigmoid(z) per entry. Then the entries with a nonzero count are recomputed
// in double from those: with per-gene θ and an integer count <= kTableCount from the per-gene
// tables (one log per entry), otherwise by exact_entry, as are zero logits beyond
// ±kDirectZiLimit (where the float pass was clamped). The per-cell sum is accumulated in double.

// Per-entry outputs of the zero pass for one cell (row buffers of `genes` floats).
struct ZeroRow {
  float* value;
  float* d_mu;
  float* d_theta;
  float* d_z;           // zero-inflated only
  float* l1p;           // log1p(μ / (θ + eps))
  float* neg_softplus;  // -softplus(z), zero-inflated only
  float* sigmoid;       // sigmoid(z), zero-inflated only
};

CELLVAE_VECTOR_MATH_BEGIN

// Entries [0, genes) of one cell as zero counts. theta is the cell's row (PerGene: the per-gene
// row, with inv_te = 1 / (θ + eps) per gene); z is null for NB.
template <bool ZeroInflation, bool PerGene>
CELLVAE_INLINE void zero_row_impl(const float* CELLVAE_RESTRICT mu,
                                  const float* CELLVAE_RESTRICT theta,
                                  const float* CELLVAE_RESTRICT inv_te_gene,
                                  const float* CELLVAE_RESTRICT z, std::int64_t genes,
                                  float* CELLVAE_RESTRICT value, float* CELLVAE_RESTRICT d_mu,
                                  float* CELLVAE_RESTRICT d_theta, float* CELLVAE_RESTRICT d_z,
                                  float* CELLVAE_RESTRICT l1p_out,
                                  float* CELLVAE_RESTRICT neg_softplus,
                                  float* CELLVAE_RESTRICT sigmoid) {
  constexpr float eps = static_cast<float>(kLogEps);
  constexpr float limit = static_cast<float>(kDirectZiLimit);
  for (std::int64_t g = 0; g < genes; ++g) {
    const float t = theta[g];
    const float m = mu[g];
    const float te = t + eps;
    const float inv_te = PerGene ? inv_te_gene[g] : 1.0f / te;
    const float r = m * inv_te;
    const float l1p = kernels::log1p_float(r);
    const float nb0 = -t * l1p;
    const float inv_s = 1.0f / (te + m);
    const float dnb_dmu = -t * inv_s;
    const float dnb_dth = -l1p + t * r * inv_s;
    l1p_out[g] = l1p;
    if (ZeroInflation) {
      // With b = -z (clamped; fixed up in double): the value log((1 + e^b NB(0)) / (1 + e^b))
      // with one log (its argument is within a rounding of 1 where the value is near 0: the
      // absolute error stays ~1e-7, as for the log of 1 / (1 + e^b) that -softplus(z) needs
      // anyway); -softplus(z) = b + log(1 / (1 + e^b)).
      float b = -z[g];
      b = b < -limit ? -limit : b;
      b = b > limit ? limit : b;
      const float e = kernels::exp_float(b);
      const float ep = e * kernels::exp_float(nb0);
      const float inv_bb = 1.0f / (1.0f + e);
      const float log_inv_bb = kernels::log_float(inv_bb);
      const float scale = ep / (1.0f + ep);
      value[g] = kernels::log_float((1.0f + ep) * inv_bb);
      d_mu[g] = scale * dnb_dmu;
      d_theta[g] = scale * dnb_dth;
      d_z[g] = e * inv_bb - scale;
      neg_softplus[g] = b + log_inv_bb;
      sigmoid[g] = inv_bb;
    } else {
      value[g] = nb0;
      d_mu[g] = dnb_dmu;
      d_theta[g] = dnb_dth;
    }
  }
}

CELLVAE_MULTIVERSION
void zero_row(const float* mu, const float* theta, const float* inv_te_gene, const float* z,
              std::int64_t genes, const ZeroRow& o) {
  if (z) {
    if (inv_te_gene)
      zero_row_impl<true, true>(mu, theta, inv_te_gene, z, genes, o.value, o.d_mu, o.d_theta,
                                o.d_z, o.l1p, o.neg_softplus, o.sigmoid);
    else
      zero_row_impl<true, false>(mu, theta, nullptr, z, genes, o.value, o.d_mu, o.d_theta, o.d_z,
                                 o.l1p, o.neg_softplus, o.sigmoid);
  } else {
    if (inv_te_gene)
      zero_row_impl<false, true>(mu, theta, inv_te_gene, nullptr, genes, o.value, o.d_mu,
                                 o.d_theta, nullptr, o.l1p, nullptr, nullptr);
    else
      zero_row_impl<false, false>(mu, theta, nullptr, nullptr, genes, o.value, o.d_mu,
                                  o.d_theta, nullptr, o.l1p, nullptr, nullptr);
  }
}

// The positions of the entries the zero pass did not finish (a nonzero count, or a zero logit
// beyond ±kDirectZiLimit), written branch-free; returns how many.
template <bool HasZ>
CELLVAE_INLINE std::int64_t positions_impl(const float* CELLVAE_RESTRICT x,
                                           const float* CELLVAE_RESTRICT z, std::int64_t genes,
                                           std::int32_t* CELLVAE_RESTRICT out) {
  const float limit = static_cast<float>(kDirectZiLimit);
  std::int64_t k = 0;
  for (std::int64_t g = 0; g < genes; ++g) {
    out[k] = static_cast<std::int32_t>(g);
    int flag = static_cast<int>(x[g] != 0.0f);
    if (HasZ) flag |= static_cast<int>(z[g] > limit) | static_cast<int>(z[g] < -limit);
    k += flag;
  }
  return k;
}

CELLVAE_MULTIVERSION
std::int64_t exact_positions(const float* x, const float* z, std::int64_t genes,
                             std::int32_t* out) {
  return z ? positions_impl<true>(x, z, genes, out) : positions_impl<false>(x, nullptr, genes, out);
}

// Σ v[0..n) in double, in four partial sums (a vector register) so that it vectorises: the
// compiler keeps a single running double sum scalar (one add after another), which cost more
// than the additions themselves.
CELLVAE_MULTIVERSION
double sum_in_double(const float* v, std::int64_t n) {
  typedef double Lanes __attribute__((vector_size(4 * sizeof(double))));
  Lanes lanes = {};
  std::int64_t g = 0;
  for (; g + 4 <= n; g += 4) lanes += Lanes{v[g], v[g + 1], v[g + 2], v[g + 3]};
  double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; g < n; ++g) sum += static_cast<double>(v[g]);
  return sum;
}
// Double entries: in order (the exact path).
double sum_in_double(const double* v, std::int64_t n) {
  double sum = 0.0;
  for (std::int64_t g = 0; g < n; ++g) sum += v[g];
  return sum;
}

CELLVAE_VECTOR_MATH_END

void run_rows_float(const Buffers<float>& b, std::int64_t genes, std::int64_t begin,
                    std::int64_t end) {
  const double* log_fact = log_factorial_table();
  const bool per_gene = b.theta_row_stride == 0;
  const bool tables = per_gene && b.lgamma_diff != nullptr;
  const bool grads = b.d_mu || b.d_theta || b.d_z;
  const auto n_genes = static_cast<std::size_t>(genes);
  // Row buffers: value, l1p, -softplus(z), sigmoid(z), and derivatives that are not needed.
  std::vector<float> buffer(7 * n_genes);
  std::vector<std::int32_t> positions(n_genes + 1);
  const double limit = kDirectZiLimit;
  for (std::int64_t n = begin; n < end; ++n) {
    const float* xr = b.x + n * genes;
    const float* mur = b.mu + n * genes;
    const float* thr = b.theta + n * b.theta_row_stride;
    const float* zr = b.z ? b.z + n * b.z_row_stride : nullptr;
    ZeroRow o{buffer.data(),
              b.d_mu ? b.d_mu + n * genes : buffer.data() + n_genes,
              b.d_theta ? b.d_theta + n * genes : buffer.data() + 2 * n_genes,
              b.d_z ? b.d_z + n * genes : buffer.data() + 3 * n_genes,
              buffer.data() + 4 * n_genes,
              buffer.data() + 5 * n_genes,
              buffer.data() + 6 * n_genes};
    zero_row(mur, thr, per_gene ? b.inv_theta_eps_float : nullptr, zr, genes, o);
    double sum = sum_in_double(o.value, genes);
    const std::int64_t k = exact_positions(xr, zr, genes, positions.data());
    for (std::int64_t q = 0; q < k; ++q) {
      const std::int64_t g = positions[static_cast<std::size_t>(q)];
      const double x = static_cast<double>(xr[g]);
      const auto xi = static_cast<std::int64_t>(x);
      const double zg = zr ? static_cast<double>(zr[g]) : 0.0;
      Entry e;
      if (tables && static_cast<double>(xi) == x && xi >= 1 && xi <= kTableCount &&
          std::abs(zg) <= limit) {
        // A small count with per-gene θ: tables, and l1p and the zero-inflation terms of the
        // float pass.
        const double t = static_cast<double>(thr[g]);
        const double m = static_cast<double>(mur[g]);
        const double l1p = static_cast<double>(o.l1p[g]);
        const std::size_t at = static_cast<std::size_t>(g * kTableCount + xi - 1);
        const double inv_s = 1.0 / (t + kLogEps + m);
        e.value = b.lgamma_diff[at] - log_fact[xi] - t * l1p +
                  x * (std::log(m + kLogEps) - b.log_theta_eps[g] - l1p);
        e.d_mu = x / (m + kLogEps) - (t + x) * inv_s;
        e.d_theta = -l1p + t * m * b.inv_theta_eps[g] * inv_s - x * inv_s + b.digamma_diff[at];
        e.d_z = 0.0;
        if (zr) {
          e.value += static_cast<double>(o.neg_softplus[g]);
          e.d_z = -static_cast<double>(o.sigmoid[g]);
        }
      } else {
        e = exact_entry(b, x, static_cast<double>(mur[g]), static_cast<double>(thr[g]), zr, g,
                        per_gene, grads, log_fact);
      }
      sum += e.value - static_cast<double>(o.value[g]);
      o.d_mu[g] = static_cast<float>(e.d_mu);
      o.d_theta[g] = static_cast<float>(e.d_theta);
      if (zr) o.d_z[g] = static_cast<float>(e.d_z);
    }
    b.out[n] = static_cast<float>(sum);
  }
}

// Rows [begin, end): the float fast path when `fast` (float only), else every entry in double.
template <class T>
void run_chunk(const Buffers<T>& b, std::int64_t genes, std::int64_t begin, std::int64_t end,
               bool /*fast*/) {
  run_rows(b, genes, begin, end);
}
template <>
void run_chunk<float>(const Buffers<float>& b, std::int64_t genes, std::int64_t begin,
                      std::int64_t end, bool fast) {
  if (fast)
    run_rows_float(b, genes, begin, end);
  else
    run_rows(b, genes, begin, end);
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
                               const torch::Tensor& z_in, bool zi, std::int64_t need,
                               bool vectorized) {
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
    const bool fast = vectorized && mu.scalar_type() == torch::kFloat;

    std::vector<double> lgamma_theta, digamma_theta, log_theta_eps, inv_theta_eps, lgamma_diff,
        digamma_diff;
    std::vector<float> inv_theta_eps_float;
    AT_DISPATCH_FLOATING_TYPES(mu.scalar_type(), "fused_nb_log_prob", [&] {
      const scalar_t* th = theta.data_ptr<scalar_t>();
      if (theta_stride == 0) {
        const auto n = static_cast<std::size_t>(genes);
        lgamma_theta.resize(n);
        digamma_theta.resize(n);
        log_theta_eps.resize(n);
        inv_theta_eps.resize(n);
        if (fast) {
          inv_theta_eps_float.resize(n);
          lgamma_diff.resize(n * kTableCount);
          digamma_diff.resize(n * kTableCount);
        }
        at::parallel_for(0, genes, 256, [&](std::int64_t begin, std::int64_t end) {
          for (std::int64_t g = begin; g < end; ++g) {
            const double t = static_cast<double>(th[g]);
            const auto i = static_cast<std::size_t>(g);
            lgamma_theta[i] = std::lgamma(t);
            digamma_theta[i] = need_theta ? digamma(t) : 0.0;
            log_theta_eps[i] = std::log(t + kLogEps);
            inv_theta_eps[i] = 1.0 / (t + kLogEps);
            if (!fast) continue;
            inv_theta_eps_float[i] = static_cast<float>(1.0 / (static_cast<double>(
                                                                   static_cast<float>(t) +
                                                                   static_cast<float>(kLogEps))));
            double lg = 0.0, dg = 0.0;
            for (std::int64_t k = 1; k <= kTableCount; ++k) {
              lg += std::log(t + static_cast<double>(k - 1));
              dg += 1.0 / (t + static_cast<double>(k - 1));
              lgamma_diff[i * kTableCount + static_cast<std::size_t>(k - 1)] = lg;
              digamma_diff[i * kTableCount + static_cast<std::size_t>(k - 1)] = dg;
            }
          }
        });
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
                          inv_theta_eps.data(),
                          lgamma_diff.empty() ? nullptr : lgamma_diff.data(),
                          digamma_diff.empty() ? nullptr : digamma_diff.data(),
                          inv_theta_eps_float.empty() ? nullptr : inv_theta_eps_float.data()};
      const std::int64_t grain =
          std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(genes, 1));
      at::parallel_for(0, cells, grain, [&](std::int64_t begin, std::int64_t end) {
        run_chunk(b, genes, begin, end, fast);
      });
    });
    // The derivative tensors are kept in saved_data, not as saved variables: the backward
    // scales them in place (they are the kernel's own buffers), so it may run only once.
    ctx->saved_data["d_mu"] = d_mu;
    ctx->saved_data["d_theta"] = d_theta;
    ctx->saved_data["d_z"] = d_z;
    ctx->saved_data["theta_sizes"] = theta_in.sizes().vec();
    if (zi) ctx->saved_data["z_sizes"] = z_in.sizes().vec();
    ctx->saved_data["used"] = false;
    return out;
  }

  // w (cells) times the rows of d (cells x genes), reduced to `sizes` (cells x genes, 1 x
  // genes or genes): in place for a per-entry parameter, as one matrix-vector product for a
  // per-gene one.
  static torch::Tensor scaled(torch::Tensor d, const torch::Tensor& w,
                              const std::vector<std::int64_t>& sizes) {
    if (d.sizes().vec() == sizes) return d.mul_(w.unsqueeze(1));
    if (d.size(0) == 1) return (d * w.unsqueeze(1)).sum_to_size(sizes);
    return torch::mv(d.t(), w).reshape(sizes);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    if (ctx->saved_data["used"].toBool())
      throw std::logic_error(
          "fused NB log-likelihood: backward may run only once per forward (retain_graph is "
          "not supported)");
    ctx->saved_data["used"] = true;
    const torch::Tensor w = grad_outputs[0].contiguous();
    torch::Tensor g_mu, g_theta, g_z;
    auto saved = [&](const char* key) {
      const c10::IValue& v = ctx->saved_data[key];
      return v.isTensor() ? v.toTensor() : torch::Tensor();
    };
    const torch::Tensor d_mu = saved("d_mu");
    const torch::Tensor d_theta = saved("d_theta");
    const torch::Tensor d_z = saved("d_z");
    if (d_mu.defined()) g_mu = d_mu.mul_(w.unsqueeze(1));
    if (d_theta.defined())
      g_theta = scaled(d_theta, w, ctx->saved_data["theta_sizes"].toIntVector());
    if (d_z.defined()) g_z = scaled(d_z, w, ctx->saved_data["z_sizes"].toIntVector());
    ctx->saved_data.erase("d_mu");
    ctx->saved_data.erase("d_theta");
    ctx->saved_data.erase("d_z");
    return {torch::Tensor(), g_mu,           g_theta,       g_z,
            torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

// ---- Bernoulli (VAExprs's binary cross-entropy) ------------------------------------------
//
// Per entry: pc = clamp(p, eps, 1 - eps), value = x log pc + (1 - x) log(1 - pc), derivative
// (x / pc - (1 - x) / (1 - pc)) where eps <= p <= 1 - eps, else 0 (clamp stops the gradient,
// as in bernoulli_log_prob). The derivative is kept for the backward pass.

CELLVAE_VECTOR_MATH_BEGIN

template <class T>
CELLVAE_INLINE void bernoulli_row_impl(const T* CELLVAE_RESTRICT x, const T* CELLVAE_RESTRICT p,
                                       std::int64_t genes, T* CELLVAE_RESTRICT value,
                                       T* CELLVAE_RESTRICT d_p) {
  const T lo = static_cast<T>(kBernoulliEps), hi = static_cast<T>(1 - kBernoulliEps);
  for (std::int64_t g = 0; g < genes; ++g) {
    const T pg = p[g];
    T pc = pg < lo ? lo : pg;
    pc = pc > hi ? hi : pc;
    const T q = T(1) - pc;
    const T xg = x[g];
    T lp, lq;
    if constexpr (std::is_same_v<T, float>) {
      lp = kernels::log_float(pc);
      lq = kernels::log_float(q);
    } else {
      lp = std::log(pc);
      lq = std::log(q);
    }
    value[g] = xg * lp + (T(1) - xg) * lq;
    const T d = xg / pc - (T(1) - xg) / q;
    const bool inside = pg >= lo && pg <= hi;
    d_p[g] = inside ? d : T(0);
  }
}

CELLVAE_MULTIVERSION
void bernoulli_row(const float* x, const float* p, std::int64_t genes, float* value, float* d_p) {
  bernoulli_row_impl<float>(x, p, genes, value, d_p);
}

void bernoulli_row(const double* x, const double* p, std::int64_t genes, double* value,
                   double* d_p) {
  bernoulli_row_impl<double>(x, p, genes, value, d_p);
}

CELLVAE_VECTOR_MATH_END

struct FusedBernoulliFunction : public torch::autograd::Function<FusedBernoulliFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x_in,
                               const torch::Tensor& p_in, bool need) {
    const torch::Tensor p = p_in.contiguous();
    const torch::Tensor x = x_in.to(p.scalar_type()).contiguous();
    const std::int64_t cells = p.size(0), genes = p.size(1);
    torch::Tensor out = torch::empty({cells}, p.options());
    torch::Tensor d_p = torch::empty_like(p);
    AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "fused_bernoulli_log_prob", [&] {
      const scalar_t* xp = x.data_ptr<scalar_t>();
      const scalar_t* pp = p.data_ptr<scalar_t>();
      scalar_t* dp = d_p.data_ptr<scalar_t>();
      scalar_t* o = out.data_ptr<scalar_t>();
      const std::int64_t grain =
          std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(genes, 1));
      at::parallel_for(0, cells, grain, [&](std::int64_t begin, std::int64_t end) {
        std::vector<scalar_t> value(static_cast<std::size_t>(genes));
        for (std::int64_t n = begin; n < end; ++n) {
          bernoulli_row(xp + n * genes, pp + n * genes, genes, value.data(), dp + n * genes);
          o[n] = static_cast<scalar_t>(sum_in_double(value.data(), genes));
        }
      });
    });
    ctx->saved_data["d_p"] = need ? d_p : torch::Tensor();
    ctx->saved_data["used"] = false;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    if (ctx->saved_data["used"].toBool())
      throw std::logic_error(
          "fused Bernoulli log-likelihood: backward may run only once per forward");
    ctx->saved_data["used"] = true;
    const c10::IValue& v = ctx->saved_data["d_p"];
    torch::Tensor d_p = v.isTensor() ? v.toTensor() : torch::Tensor();
    ctx->saved_data.erase("d_p");
    if (d_p.defined()) d_p.mul_(grad_outputs[0].contiguous().unsqueeze(1));
    return {torch::Tensor(), d_p, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor fused_nb_log_prob_per_cell(const torch::Tensor& x, const torch::Tensor& mu,
                                         const torch::Tensor& theta,
                                         const torch::Tensor& zero_logits,
                                         const FusedNbOptions& options) {
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
                                zi, need, options.vectorized);
}

}  // namespace cellvae::model

namespace cellvae::model {

torch::Tensor fused_bernoulli_log_prob_per_cell(const torch::Tensor& x, const torch::Tensor& p) {
  if (!x.defined() || !p.defined())
    throw std::invalid_argument("fused Bernoulli log-likelihood: x and p must be defined");
  if (p.dim() != 2 || x.sizes() != p.sizes())
    throw std::invalid_argument("fused Bernoulli log-likelihood: x and p must be cells x genes");
  if (p.scalar_type() != torch::kFloat && p.scalar_type() != torch::kDouble)
    throw std::invalid_argument("fused Bernoulli log-likelihood: p must be float or double");
  if (!x.device().is_cpu() || !p.device().is_cpu())
    throw std::invalid_argument("fused Bernoulli log-likelihood: tensors must be on the CPU");
  const bool need = torch::GradMode::is_enabled() && p.requires_grad();
  return FusedBernoulliFunction::apply(x, p, need);
}

}  // namespace cellvae::model
