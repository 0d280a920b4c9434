#include "cellvae/analysis/kmeans.hpp"
#include "checked_matrix.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include <torch/torch.h>

#include "cellvae/error.hpp"
#include "cellvae/random.hpp"

namespace cellvae::analysis {

namespace {

void check_options(const KMeansOptions& o) {
  if (o.max_iterations < 1) throw InputError("k-means: max_iterations must be >= 1");
  if (!(o.tolerance >= 0)) throw InputError("k-means: tolerance must be >= 0");
}

/// Squared Euclidean distances (n x k) between rows of x and centres, clamped at 0.
torch::Tensor squared_distances(const torch::Tensor& x, const torch::Tensor& x_sq,
                                const torch::Tensor& centers) {
  auto c_sq = centers.pow(2).sum(1);
  return (x_sq.unsqueeze(1) - 2 * x.matmul(centers.t()) + c_sq.unsqueeze(0)).clamp_min_(0);
}

std::vector<std::int32_t> to_labels(const torch::Tensor& t) {
  auto cpu = t.to(torch::kCPU, torch::kInt32).contiguous();
  const auto* p = cpu.data_ptr<std::int32_t>();
  return std::vector<std::int32_t>(p, p + cpu.numel());
}

/// One Lloyd run on centred data `x` (float64) from `centers`; centres are returned centred too.
KMeansResult lloyd(const torch::Tensor& x, torch::Tensor centers, const KMeansOptions& o,
                   double tolerance_abs) {
  const std::int64_t k = centers.size(0);
  const auto x_sq = x.pow(2).sum(1);
  KMeansResult r;
  torch::Tensor labels, labels_old, d2;
  bool label_converged = false;
  for (int it = 0; it < o.max_iterations; ++it) {
    d2 = squared_distances(x, x_sq, centers);
    auto [min_d2, lab] = d2.min(1);
    labels = lab;
    auto counts = torch::bincount(labels, {}, k).to(torch::kFloat64);
    auto sums = torch::zeros_like(centers).index_add_(0, labels, x);
    auto fresh = sums / counts.clamp_min(1).unsqueeze(1);
    auto empty = (counts == 0).nonzero().flatten();
    if (empty.numel() > 0) {
      // Empty clusters take the rows farthest from their own centres.
      auto far = std::get<1>(min_d2.topk(empty.numel()));
      fresh.index_put_({empty}, x.index_select(0, far));
    }
    const double shift = (fresh - centers).pow(2).sum().item<double>();
    centers = fresh;
    r.iterations = it + 1;
    if (labels_old.defined() && torch::equal(labels, labels_old)) {
      label_converged = true;
      r.converged = true;
      break;
    }
    if (shift <= tolerance_abs) {
      r.converged = true;
      break;
    }
    labels_old = labels;
  }
  d2 = squared_distances(x, x_sq, centers);
  auto [min_d2, lab] = d2.min(1);
  if (!label_converged) labels = lab;
  // Inertia from the coordinate differences (exact 0 for rows equal to their centre).
  r.inertia = (x - centers.index_select(0, labels)).pow(2).sum().item<double>();
  r.labels = to_labels(labels);
  r.centers = centers;
  return r;
}

torch::Tensor plusplus(const torch::Tensor& x, const torch::Tensor& x_sq, std::int64_t k,
                       Rng& rng) {
  const std::int64_t n = x.size(0), d = x.size(1);
  torch::Tensor centers = torch::empty({k, d}, x.options());
  const auto first = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n)));
  centers[0] = x[first];
  auto closest = squared_distances(x, x_sq, centers.slice(0, 0, 1)).squeeze(1);
  double potential = closest.sum().item<double>();
  const std::int64_t trials = 2 + static_cast<std::int64_t>(std::log(static_cast<double>(k)));
  for (std::int64_t c = 1; c < k; ++c) {
    auto cumulative = closest.cumsum(0);
    std::vector<double> draws(static_cast<std::size_t>(trials));
    for (auto& v : draws) v = rng.uniform() * potential;
    auto targets = torch::tensor(draws, x.options());
    // The first row whose cumulative weight exceeds the draw: rows at distance 0 (already
    // centres) are never picked unless all weight is 0.
    auto candidates =
        torch::searchsorted(cumulative, targets, false, /*right=*/true).clamp_max_(n - 1);
    auto cand_d2 = squared_distances(x, x_sq, x.index_select(0, candidates));  // n x trials
    auto merged = torch::minimum(cand_d2, closest.unsqueeze(1));
    auto potentials = merged.sum(0);
    const auto best = potentials.argmin().item<std::int64_t>();
    closest = merged.select(1, best).contiguous();
    potential = potentials[best].item<double>();
    centers[c] = x[candidates[best].item<std::int64_t>()];
  }
  return centers;
}

double absolute_tolerance(const torch::Tensor& x, double tolerance) {
  return x.var(0, /*unbiased=*/false).mean().item<double>() * tolerance;
}

}  // namespace

torch::Tensor kmeans_plusplus(const torch::Tensor& x, std::int64_t k, std::uint64_t seed) {
  torch::NoGradGuard no_grad;
  const torch::Tensor xd = detail::checked_matrix(x, "k-means++", 1);
  if (k < 1 || k > xd.size(0))
    throw InputError("k-means++: the number of centres must be between 1 and the number of rows (" +
                     std::to_string(xd.size(0)) + "); got " + std::to_string(k));
  Rng rng(seed);
  return plusplus(xd, xd.pow(2).sum(1), k, rng);
}

KMeansResult run_kmeans(const torch::Tensor& x, const KMeansOptions& options) {
  torch::NoGradGuard no_grad;
  const torch::Tensor xd = detail::checked_matrix(x, "k-means", 1);
  check_options(options);
  const std::int64_t n = xd.size(0);
  if (options.clusters < 1 || options.clusters > n)
    throw InputError("k-means: clusters must be between 1 and the number of rows (" +
                     std::to_string(n) + "); got " + std::to_string(options.clusters));
  if (options.n_init < 1) throw InputError("k-means: n_init must be >= 1");
  // Centring first keeps |x|^2 - 2 x.c + |c|^2 accurate for data far from the origin.
  const auto mean = xd.mean(0);
  const auto xc = xd - mean;
  const auto x_sq = xc.pow(2).sum(1);
  const double tol = absolute_tolerance(xc, options.tolerance);
  Rng rng(options.seed);
  KMeansResult best;
  best.inertia = std::numeric_limits<double>::infinity();
  for (int run = 0; run < options.n_init; ++run) {
    auto start = plusplus(xc, x_sq, options.clusters, rng);
    auto r = lloyd(xc, start, options, tol);
    if (run == 0 || r.inertia < best.inertia) best = std::move(r);
  }
  best.centers = best.centers + mean;
  return best;
}

KMeansResult run_kmeans_from_centers(const torch::Tensor& x, const torch::Tensor& centers,
                                     const KMeansOptions& options) {
  torch::NoGradGuard no_grad;
  const torch::Tensor xd = detail::checked_matrix(x, "k-means", 1);
  check_options(options);
  if (!centers.defined() || centers.dim() != 2 || centers.size(1) != xd.size(1) ||
      centers.size(0) < 1)
    throw InputError("k-means: the initial centres must be a (k x " + std::to_string(xd.size(1)) +
                     ") matrix");
  if (centers.size(0) > xd.size(0))
    throw InputError("k-means: more initial centres (" + std::to_string(centers.size(0)) +
                     ") than rows (" + std::to_string(xd.size(0)) + ")");
  const auto mean = xd.mean(0);
  const auto xc = xd - mean;
  auto start = centers.to(xd.device(), torch::kFloat64) - mean;
  if (!torch::isfinite(start).all().item<bool>())
    throw InputError("k-means: the initial centres contain NaN or infinite values");
  auto r = lloyd(xc, start, options, absolute_tolerance(xc, options.tolerance));
  r.centers = r.centers + mean;
  return r;
}

}  // namespace cellvae::analysis
