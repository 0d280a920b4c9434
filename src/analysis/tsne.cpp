#include "cellvae/analysis/tsne.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <utility>

#include <torch/torch.h>

#include "cellvae/analysis/neighbors.hpp"
#include "cellvae/analysis/pca.hpp"
#include "cellvae/enum_names.hpp"
#include "cellvae/error.hpp"
#include "cellvae/random.hpp"
#include "checked_matrix.hpp"
#include "quadtree.hpp"

namespace cellvae::analysis {

namespace {

constexpr NameTable<TsneInit, 2> kTsneInitNames{{
    {TsneInit::pca, "pca"},
    {TsneInit::random, "random"},
}};

constexpr int kCheckEvery = 50;  // iterations between convergence checks (scikit-learn's)

/// Runs fn(begin, end) over [0, n) split into `threads` contiguous ranges.
template <class F>
void parallel_ranges(std::int64_t n, int threads, F&& fn) {
  const std::int64_t parts =
      std::clamp<std::int64_t>(threads, 1, std::max<std::int64_t>(n / 64, 1));
  if (parts == 1) {
    fn(std::int64_t{0}, n);
    return;
  }
  std::vector<std::thread> pool;
  for (std::int64_t t = 1; t < parts; ++t)
    pool.emplace_back([&, t] { fn(n * t / parts, n * (t + 1) / parts); });
  fn(std::int64_t{0}, n / parts);
  for (auto& th : pool) th.join();
}

int resolve_threads(int threads) {
  if (threads > 0) return threads;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

/// beta for one row: the precision whose conditional distribution over the row's squared
/// distances `d2` (ascending) has entropy ln(perplexity). Writes the probabilities to `p`.
/// Returns false when 100 bisection steps do not reach the entropy to 1e-5.
bool calibrate_row(const double* d2, std::int64_t k, double log_perplexity, double* p) {
  // Distances are measured from the nearest one: the normalised p and the entropy are the same,
  // and exp() no longer underflows for rows far from all others.
  const double base = d2[0];
  double beta = 1, beta_lo = 0, beta_hi = std::numeric_limits<double>::infinity();
  for (int step = 0; step < 100; ++step) {
    double sum = 0, weighted = 0;
    for (std::int64_t j = 0; j < k; ++j) {
      p[j] = std::exp(-(d2[j] - base) * beta);
      sum += p[j];
    }
    for (std::int64_t j = 0; j < k; ++j) {
      p[j] /= sum;
      weighted += (d2[j] - base) * p[j];
    }
    const double entropy = std::log(sum) + beta * weighted;
    const double diff = entropy - log_perplexity;
    if (std::abs(diff) <= 1e-5) return true;
    if (diff > 0) {  // too flat: sharpen
      beta_lo = beta;
      beta = std::isinf(beta_hi) ? beta * 2 : (beta + beta_hi) / 2;
    } else {
      beta_hi = beta;
      beta = (beta + beta_lo) / 2;
    }
  }
  return false;
}

/// The attractive term sum_j p_ij q_ij (y_i - y_j) of rows [begin, end), times `scale`, into
/// `grad`; returns nothing. Also used for KL (see kl_divergence).
void attraction(const TsneAffinities& p, const double* y, double scale, std::int64_t begin,
                std::int64_t end, double* grad) {
  for (std::int64_t i = begin; i < end; ++i) {
    double gx = 0, gy = 0;
    for (std::int64_t e = p.indptr[i]; e < p.indptr[i + 1]; ++e) {
      const std::int64_t j = p.indices[e];
      const double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
      const double w = p.values[e] / (1 + dx * dx + dy * dy);
      gx += w * dx;
      gy += w * dy;
    }
    grad[2 * i] = scale * gx;
    grad[2 * i + 1] = scale * gy;
  }
}

/// KL(P || Q) over the stored p_ij, q_ij = (1 + d_ij^2)^-1 / z.
double kl_divergence(const TsneAffinities& p, const double* y, double z) {
  constexpr double tiny = std::numeric_limits<float>::min();
  double kl = 0;
  for (std::int64_t i = 0; i < p.n; ++i)
    for (std::int64_t e = p.indptr[i]; e < p.indptr[i + 1]; ++e) {
      const std::int64_t j = p.indices[e];
      const double pij = p.values[e];
      const double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
      const double q = 1 / (1 + dx * dx + dy * dy) / z;
      kl += pij * std::log(std::max(pij, tiny) / std::max(q, tiny));
    }
  return kl;
}

/// The gradient of KL at y (2n values) into `grad`, with P scaled by `exaggeration`. Returns Z.
/// Per-point work is independent and Z is summed in row order, so threads do not change it.
double gradient(const TsneAffinities& p, const double* y, double exaggeration, double theta,
                int threads, detail::QuadTree& tree, std::vector<double>& z_rows, double* grad) {
  const std::int64_t n = p.n;
  tree.build(y, n);
  z_rows.resize(static_cast<std::size_t>(n));
  std::vector<double> rep(static_cast<std::size_t>(2 * n));
  const double theta2 = theta * theta;
  const auto& order = tree.order();
  parallel_ranges(n, threads, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t t = begin; t < end; ++t) {
      const std::int64_t i = order[t];
      double fx = 0, fy = 0;
      z_rows[i] = tree.repulsion(i, theta2, fx, fy);
      rep[2 * i] = fx;
      rep[2 * i + 1] = fy;
    }
    attraction(p, y, exaggeration, begin, end, grad);
  });
  double z = 0;
  for (double v : z_rows) z += v;
  z = std::max(z, std::numeric_limits<double>::min());
  for (std::int64_t t = 0; t < 2 * n; ++t) grad[t] = 4 * (grad[t] - rep[t] / z);
  return z;
}

void check_options(const TsneOptions& o, std::int64_t n) {
  auto bad = [](const std::string& what) { throw InputError("t-SNE: " + what); };
  if (!(o.perplexity > 0) || !std::isfinite(o.perplexity))
    bad("perplexity must be > 0; got " + format_number(o.perplexity));
  if (o.perplexity >= static_cast<double>(n))
    bad("perplexity (" + format_number(o.perplexity) + ") must be less than the number of rows (" +
        std::to_string(n) + ")");
  if (!(o.theta >= 0 && o.theta <= 1))
    bad("theta must be in [0, 1]; got " + format_number(o.theta));
  if (o.n_iter < 1) bad("n_iter must be >= 1; got " + std::to_string(o.n_iter));
  if (!(o.early_exaggeration >= 1) || !std::isfinite(o.early_exaggeration))
    bad("early_exaggeration must be >= 1; got " + format_number(o.early_exaggeration));
  if (o.exaggeration_iter < 0)
    bad("exaggeration_iter must be >= 0; got " + std::to_string(o.exaggeration_iter));
  if (o.learning_rate && (!(*o.learning_rate > 0) || !std::isfinite(*o.learning_rate)))
    bad("learning_rate must be > 0; got " + format_number(*o.learning_rate));
  if (!(o.min_gain > 0) || !std::isfinite(o.min_gain))
    bad("min_gain must be > 0; got " + format_number(o.min_gain));
  if (!(o.min_grad_norm >= 0))
    bad("min_grad_norm must be >= 0; got " + format_number(o.min_grad_norm));
  if (o.n_iter_without_progress < 1)
    bad("n_iter_without_progress must be >= 1; got " + std::to_string(o.n_iter_without_progress));
  if (o.threads < 0) bad("threads must be >= 0; got " + std::to_string(o.threads));
}

/// The start: PCA scaled to standard deviation 1e-4 in its first column, or N(0, 1e-4^2).
std::vector<double> initial_embedding(const torch::Tensor& x, const TsneOptions& o) {
  const std::int64_t n = x.size(0);
  std::vector<double> y(static_cast<std::size_t>(2 * n));
  Rng rng(o.seed);
  if (o.init == TsneInit::pca && x.size(1) >= 2) {
    PcaOptions po;
    po.n_components = 2;
    po.seed = o.seed;
    auto scores = run_pca(x, po).scores.contiguous();
    const double sd = scores.select(1, 0).std(/*unbiased=*/false).item<double>();
    if (sd > 0) {
      scores = (scores * (1e-4 / sd)).contiguous();
      std::copy(scores.data_ptr<double>(), scores.data_ptr<double>() + 2 * n, y.begin());
      return y;
    }
  }
  // Random start (also for PCA of a single column or of identical rows, which would leave a
  // coordinate constant and, by symmetry, forever without gradient).
  for (auto& v : y) v = 1e-4 * rng.normal();
  return y;
}

}  // namespace

std::string_view to_string(TsneInit init) { return name_of(kTsneInitNames, init); }
TsneInit parse_tsne_init(std::string_view name) {
  return parse_name(kTsneInitNames, name, "t-SNE initialisation");
}

TsneAffinities tsne_affinities(const torch::Tensor& x, double perplexity) {
  torch::NoGradGuard no_grad;
  const torch::Tensor xd = detail::checked_matrix(x, "t-SNE", 2);
  const std::int64_t n = xd.size(0);
  if (!(perplexity > 0) || !std::isfinite(perplexity))
    throw InputError("t-SNE: perplexity must be > 0; got " + format_number(perplexity));
  if (perplexity >= static_cast<double>(n))
    throw InputError("t-SNE: perplexity (" + format_number(perplexity) +
                     ") must be less than the number of rows (" + std::to_string(n) + ")");
  const std::int64_t k =
      std::min<std::int64_t>(n - 1, static_cast<std::int64_t>(std::floor(3 * perplexity + 1)));
  NeighborOptions no;
  no.k = k;
  no.exclude_self = true;
  // Neighbours of centred data: |x|^2 - 2 x.y + |y|^2 is accurate to the spread, not the offset.
  auto found = nearest_neighbors(xd - xd.mean(0), xd - xd.mean(0), no);
  auto d2 = found.distances.pow(2).contiguous();
  auto idx = found.indices.contiguous();
  const double* dp = d2.data_ptr<double>();
  const std::int64_t* ip = idx.data_ptr<std::int64_t>();

  // Conditional p_j|i, then the triplets of P + P^T, merged by (row, column).
  std::vector<double> cond(static_cast<std::size_t>(n * k));
  TsneAffinities r;
  r.n = n;
  r.n_neighbors = k;
  const double log_perplexity = std::log(perplexity);
  for (std::int64_t i = 0; i < n; ++i)
    if (!calibrate_row(dp + i * k, k, log_perplexity, cond.data() + i * k)) ++r.not_converged;
  struct Entry {
    std::int64_t row, col;
    double value;
  };
  std::vector<Entry> entries;
  entries.reserve(static_cast<std::size_t>(2 * n * k));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t t = 0; t < k; ++t) {
      const double v = cond[i * k + t];
      entries.push_back({i, ip[i * k + t], v});
      entries.push_back({ip[i * k + t], i, v});
    }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.row != b.row ? a.row < b.row : a.col < b.col;
  });
  r.indptr.assign(static_cast<std::size_t>(n + 1), 0);
  double total = 0;
  for (std::size_t e = 0; e < entries.size();) {
    std::size_t f = e;
    double v = 0;
    for (;
         f < entries.size() && entries[f].row == entries[e].row && entries[f].col == entries[e].col;
         ++f)
      v += entries[f].value;
    r.indices.push_back(entries[e].col);
    r.values.push_back(v);
    ++r.indptr[entries[e].row + 1];
    total += v;
    e = f;
  }
  for (std::int64_t i = 0; i < n; ++i) r.indptr[i + 1] += r.indptr[i];
  for (auto& v : r.values) v /= total;
  return r;
}

TsneGradient tsne_gradient(const TsneAffinities& p, const torch::Tensor& embedding, double theta,
                           int threads) {
  if (!embedding.defined() || embedding.dim() != 2 || embedding.size(0) != p.n ||
      embedding.size(1) != 2)
    throw InputError("t-SNE: the embedding must be (" + std::to_string(p.n) + " x 2); got " +
                     detail::shape_text(embedding));
  if (!(theta >= 0 && theta <= 1))
    throw InputError("t-SNE: theta must be in [0, 1]; got " + format_number(theta));
  auto y = embedding.to(torch::kCPU, torch::kFloat64).contiguous();
  TsneGradient r;
  r.gradient = torch::zeros({p.n, 2}, torch::kFloat64);
  detail::QuadTree tree;
  std::vector<double> z_rows;
  r.z = gradient(p, y.data_ptr<double>(), 1.0, theta, resolve_threads(threads), tree, z_rows,
                 r.gradient.data_ptr<double>());
  r.kl_divergence = kl_divergence(p, y.data_ptr<double>(), r.z);
  return r;
}

// ---- the optimisation ------------------------------------------------------------------------

struct TsneState::Impl {
  TsneOptions options;
  TsneAffinities p;
  std::vector<double> y, update, gains, grad, z_rows;
  detail::QuadTree tree;
  double learning_rate = 0;
  int threads = 1;
  std::int64_t iteration = 0;
  bool finished = false;
  // Progress bookkeeping of the current phase (reset when the exaggeration ends).
  double best_kl = std::numeric_limits<double>::infinity();
  std::int64_t best_iteration = 0;

  // Iterations with exaggerated P: options.exaggeration_iter (capped at n_iter), or fewer when
  // the first phase stops early; the second phase then starts at once, as in scikit-learn.
  std::int64_t exaggeration_stop = 0;

  void start_phase() {
    std::fill(update.begin(), update.end(), 0.0);
    std::fill(gains.begin(), gains.end(), 1.0);
    best_kl = std::numeric_limits<double>::infinity();
    best_iteration = iteration;
  }

  /// One iteration; returns false when the phase stops early (checked every 50 iterations).
  bool step() {
    const bool exaggerated = iteration < exaggeration_stop;
    const double exaggeration = exaggerated ? options.early_exaggeration : 1.0;
    const double momentum = exaggerated ? 0.5 : 0.8;
    const std::int64_t it = iteration++;
    const bool check = (it + 1) % kCheckEvery == 0;
    const double z =
        gradient(p, y.data(), exaggeration, options.theta, threads, tree, z_rows, grad.data());
    // KL at the positions the gradient was taken at (with the true, unexaggerated P).
    const double kl = check && !exaggerated ? kl_divergence(p, y.data(), z) : 0.0;
    double norm2 = 0;
    for (std::size_t t = 0; t < y.size(); ++t) {
      // A gain grows while the gradient keeps pushing the way the last update went.
      if (update[t] * grad[t] < 0)
        gains[t] += 0.2;
      else
        gains[t] *= 0.8;
      gains[t] = std::max(gains[t], options.min_gain);
      const double g = grad[t] * gains[t];
      norm2 += g * g;
      update[t] = momentum * update[t] - learning_rate * g;
      y[t] += update[t];
    }
    if (!check) return true;
    if (std::sqrt(norm2) <= options.min_grad_norm) return false;
    if (exaggerated) return true;
    if (kl < best_kl) {
      best_kl = kl;
      best_iteration = it;
    } else if (it - best_iteration > options.n_iter_without_progress) {
      return false;
    }
    return true;
  }
};

TsneState::TsneState(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TsneState::~TsneState() = default;
TsneState::TsneState(TsneState&&) noexcept = default;
TsneState& TsneState::operator=(TsneState&&) noexcept = default;

std::int64_t TsneState::run(std::int64_t iteration_limit) {
  Impl& s = *impl_;
  const std::int64_t limit = std::min(iteration_limit, s.options.n_iter);
  while (!s.finished && s.iteration < limit) {
    const bool exaggerated = s.iteration < s.exaggeration_stop;
    const bool keep_going = s.step();
    if (exaggerated && (!keep_going || s.iteration == s.exaggeration_stop)) {
      s.exaggeration_stop = s.iteration;
      s.start_phase();
    } else if (!keep_going) {
      s.finished = true;
    }
    if (s.iteration >= s.options.n_iter) s.finished = true;
  }
  return s.iteration;
}

std::int64_t TsneState::run() { return run(impl_->options.n_iter); }
std::int64_t TsneState::iteration() const { return impl_->iteration; }
bool TsneState::done() const { return impl_->finished; }

TsneResult TsneState::result() const {
  const Impl& s = *impl_;
  const std::int64_t n = s.p.n;
  TsneResult r;
  r.embedding = torch::from_blob(const_cast<double*>(s.y.data()), {n, 2}, torch::kFloat64).clone();
  detail::QuadTree tree;
  tree.build(s.y.data(), n);
  std::vector<double> z_rows(static_cast<std::size_t>(n));
  const double theta2 = s.options.theta * s.options.theta;
  parallel_ranges(n, s.threads, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      double fx = 0, fy = 0;
      z_rows[i] = tree.repulsion(i, theta2, fx, fy);
    }
  });
  double z = 0;
  for (double v : z_rows) z += v;
  r.kl_divergence = kl_divergence(s.p, s.y.data(), std::max(z, std::numeric_limits<double>::min()));
  r.n_iter = s.iteration;
  r.learning_rate = s.learning_rate;
  r.n_neighbors = s.p.n_neighbors;
  r.perplexity_not_converged = s.p.not_converged;
  return r;
}

TsneState tsne_initialize(const torch::Tensor& x, const TsneOptions& options) {
  torch::NoGradGuard no_grad;
  const torch::Tensor xd = detail::checked_matrix(x, "t-SNE", 3);
  const std::int64_t n = xd.size(0);
  check_options(options, n);
  auto s = std::make_unique<TsneState::Impl>();
  s->options = options;
  s->p = tsne_affinities(xd, options.perplexity);
  s->y = initial_embedding(xd, options);
  s->update.assign(s->y.size(), 0.0);
  s->gains.assign(s->y.size(), 1.0);
  s->grad.assign(s->y.size(), 0.0);
  s->learning_rate = options.learning_rate.value_or(
      std::max(static_cast<double>(n) / options.early_exaggeration / 4, 50.0));
  s->threads = resolve_threads(options.threads);
  s->exaggeration_stop = std::min(options.exaggeration_iter, options.n_iter);
  s->start_phase();
  return TsneState(std::move(s));
}

TsneResult tsne(const torch::Tensor& x, const TsneOptions& options) {
  auto state = tsne_initialize(x, options);
  state.run();
  return state.result();
}

}  // namespace cellvae::analysis
