#include "cellvae/preprocess/loess.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "cellvae/error.hpp"

namespace cellvae {
namespace {

// Below this, a weighted (normalized) variance of the design is taken as zero: the local
// points do not determine that polynomial term. Roundoff in these sums is ~1e-15.
constexpr double kRankTolerance = 1e-12;

}  // namespace

LoessResult loess_fit(const std::vector<double>& x, const std::vector<double>& y,
                      const LoessOptions& options) {
  if (!(options.span > 0 && options.span <= 1))
    throw InputError("loess span must be in (0, 1] (got " + std::to_string(options.span) + ")");
  if (options.degree < 0 || options.degree > 2)
    throw InputError("loess degree must be 0, 1 or 2 (got " + std::to_string(options.degree) + ")");
  if (x.size() != y.size())
    throw InputError("loess: x has " + std::to_string(x.size()) + " values but y has " +
                     std::to_string(y.size()));
  if (x.empty()) throw InputError("loess: no points to fit");
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(x[i]) || !std::isfinite(y[i]))
      throw InputError("loess: point " + std::to_string(i) + " is not finite");

  const std::int64_t n = static_cast<std::int64_t>(x.size());
  // The 1e-9 keeps e.g. 0.3 * 60 from flooring to 17 through representation error.
  std::int64_t q =
      static_cast<std::int64_t>(std::floor(options.span * static_cast<double>(n) + 1e-9));
  q = std::min(q, n);
  if (q < options.degree + 1)
    throw InputError("loess: span " + std::to_string(options.span) + " of " + std::to_string(n) +
                     " points gives " + std::to_string(q) +
                     " neighbours, fewer than degree + 1 = " + std::to_string(options.degree + 1) +
                     "; use a larger span or more points");

  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t a, std::int64_t b) { return x[a] < x[b]; });
  std::vector<double> xs(order.size()), ys(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    xs[i] = x[static_cast<std::size_t>(order[i])];
    ys[i] = y[static_cast<std::size_t>(order[i])];
  }

  LoessResult result;
  result.neighbours = q;
  std::vector<double> fitted_sorted(order.size());
  std::vector<double> w(static_cast<std::size_t>(q)), u(static_cast<std::size_t>(q));
  std::int64_t lo = 0;  // first of the q nearest points in sorted order; moves right only
  for (std::int64_t i = 0; i < n; ++i) {
    const double x0 = xs[i];
    // The fit depends on x0 alone, so repeated x values share it.
    if (i > 0 && xs[i - 1] == x0) {
      fitted_sorted[i] = fitted_sorted[i - 1];
      continue;
    }
    while (lo + q < n && xs[lo + q] - x0 < x0 - xs[lo]) ++lo;
    const double h = std::max(x0 - xs[lo], xs[lo + q - 1] - x0);
    if (h == 0) {
      // At least q points sit at x0: no bandwidth to weight by; average them all.
      double sum = 0;
      std::int64_t j = i;
      for (; j < n && xs[j] == x0; ++j) sum += ys[j];
      fitted_sorted[i] = sum / static_cast<double>(j - i);
      if (options.degree > 0) ++result.n_reduced_degree;
      continue;
    }

    // Orthogonal polynomials in v = u - mean_w(u), u = (x - x0) / h in (-1, 1): the weighted
    // least-squares fit without forming an ill-conditioned normal matrix.
    double s0 = 0, s1 = 0;
    for (std::int64_t j = lo; j < lo + q; ++j) {
      const double d = std::fabs(xs[j] - x0);
      double wj = 0;
      if (d < h) {
        const double r = d / h;
        const double t = 1 - r * r * r;
        wj = t * t * t;
      }
      w[j - lo] = wj;
      u[j - lo] = (xs[j] - x0) / h;
      s0 += wj;
      s1 += wj * u[j - lo];
    }
    const double ubar = s1 / s0;
    double v2 = 0, v3 = 0, v4 = 0, ty = 0, tvy = 0, tv2y = 0;
    for (std::int64_t k = 0; k < q; ++k) {
      const double wk = w[k];
      if (wk == 0) continue;
      const double v = u[k] - ubar, vv = v * v, yk = ys[lo + k];
      v2 += wk * vv;
      v3 += wk * vv * v;
      v4 += wk * vv * vv;
      ty += wk * yk;
      tvy += wk * v * yk;
      tv2y += wk * vv * yk;
    }
    const double v0 = -ubar;  // x0 in the v coordinate
    double fit = ty / s0;
    int degree_used = 0;
    if (options.degree >= 1 && v2 / s0 > kRankTolerance) {
      degree_used = 1;
      fit += tvy / v2 * v0;
      if (options.degree >= 2) {
        const double a = v2 / s0, b = v3 / v2;
        const double norm2 = v4 - a * v2 - b * v3;
        if (norm2 / s0 > kRankTolerance) {
          degree_used = 2;
          fit += (tv2y - a * ty - b * tvy) / norm2 * (v0 * v0 - a - b * v0);
        }
      }
    }
    if (degree_used < options.degree) ++result.n_reduced_degree;
    fitted_sorted[i] = fit;
  }

  result.fitted.resize(order.size());
  for (std::size_t i = 0; i < order.size(); ++i)
    result.fitted[static_cast<std::size_t>(order[i])] = fitted_sorted[i];
  return result;
}

}  // namespace cellvae
